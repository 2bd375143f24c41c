#!/usr/bin/env bash
# Fails when a library file imports a layer above its own, or when Package.swift lets a layer
# depend on anything but the layer below it (docs/ARCHITECTURE.md). The compiler enforces the
# direction through Package.swift; this guards Package.swift itself and names the offending file.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(Support Records Chunking Embedding Index Retrieval Answering Evaluation Pipeline Fuzzing)
position() { local i; for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
problems=0
for i in "${!layers[@]}"; do
    layer=${layers[$i]}
    [ -d "Sources/RagPipe/$layer" ] || { echo "check-layers: Sources/RagPipe/$layer is missing"; problems=$((problems + 1)); continue; }
    while IFS=: read -r file line module; do
        j=$(position "$module")
        if [ "$j" -lt 0 ] || [ "$j" -ge "$i" ]; then
            echo "check-layers: $file:$line: $layer imports RagPipe$module, which is not below it"
            problems=$((problems + 1))
        fi
    done < <(grep -rnoE '^(@testable )?import RagPipe[A-Za-z]+' "Sources/RagPipe/$layer" --include='*.swift' |
             sed -E 's/^([^:]+):([0-9]+):(@testable )?import RagPipe/\1:\2:/')
    # The target's dependencies in Package.swift: the layer below (and C modules) only.
    deps=$(grep -E "\.target\(name: \"RagPipe$layer\"" Package.swift | grep -oE 'dependencies: \[[^]]*\]' || true)
    [ -n "$deps" ] || { echo "check-layers: Package.swift has no target RagPipe$layer"; problems=$((problems + 1)); continue; }
    expected=$([ "$i" -gt 0 ] && echo "RagPipe${layers[$((i - 1))]}" || echo "")
    for dep in $(echo "$deps" | grep -oE '"RagPipe[A-Za-z]+"' | tr -d '"'); do
        if [ "$dep" != "$expected" ]; then
            echo "check-layers: Package.swift: RagPipe$layer depends on $dep; a layer depends only on the one below ($expected)"
            problems=$((problems + 1))
        fi
    done
done
# Above the library, RagPipeCommandLine (the option groups and argument conformances every
# executable parses with) sits on the top layer, Pipeline, like the executables; no library file
# imports it or the argument parser, so the library never learns about command lines.
deps=$(grep -E '\.target\(name: "RagPipeCommandLine"' Package.swift | grep -oE 'dependencies: \[[^]]*\]' || true)
if [ -z "$deps" ]; then
    echo "check-layers: Package.swift has no target RagPipeCommandLine"; problems=$((problems + 1))
else
    for dep in $(echo "$deps" | grep -oE '"RagPipe[A-Za-z]+"' | tr -d '"'); do
        if [ "$dep" != "RagPipePipeline" ]; then
            echo "check-layers: Package.swift: RagPipeCommandLine depends on $dep; it stands on RagPipePipeline only"
            problems=$((problems + 1))
        fi
    done
fi
while IFS=: read -r file line _; do
    echo "check-layers: $file:$line: the library imports the command line (ArgumentParser or RagPipeCommandLine)"
    problems=$((problems + 1))
done < <(grep -rnE '^(@testable )?import (ArgumentParser|RagPipeCommandLine)' Sources/RagPipe --include='*.swift' || true)
# Every library file is in a layer folder.
stray=$(find Sources/RagPipe -name '*.swift' | grep -vE "^Sources/RagPipe/($(IFS='|'; echo "${layers[*]}"))/" || true)
[ -z "$stray" ] || { echo "check-layers: outside any layer: $stray"; problems=$((problems + 1)); }
[ "$problems" -eq 0 ] || { echo "check-layers: $problems problem(s)"; exit 1; }
echo "check-layers: ${#layers[@]} layers, each using only those below it; RagPipeCommandLine above them"
