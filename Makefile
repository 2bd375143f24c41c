# ragpipe — build, index the bundled corpus, test, benchmark.
# `make index` and `make test` are all a fresh machine needs (see README).

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
SWIFT       ?= swift
RELEASE     := .build/release
INDEX       ?= index/corpus.ragx
CORPUS      ?= corpus
K           ?= 5
CORPUS_FILES := $(shell find -L $(CORPUS) -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.txt' \) 2>/dev/null | LC_ALL=C sort)
TOOLS       := $(RELEASE)/chunk $(RELEASE)/embed $(RELEASE)/build-index $(RELEASE)/query

.PHONY: all release index query test bench clean help

all: index

help:
	@echo "make index            build (release) and index $(CORPUS)/ into $(INDEX)"
	@echo "make query Q='...'    ask the index a question"
	@echo "make test             run the test suite"
	@echo "make bench            release benchmarks (chunk MB/s, ingest records/s, open+query ms, scan GB/s)"
	@echo "make clean            remove build products and generated indexes"

release:
	$(SWIFT) build -c release

# A no-op when neither the corpus nor the tools changed.
index: release
	@$(MAKE) --no-print-directory $(INDEX)

$(INDEX): $(CORPUS_FILES) $(TOOLS)
	@mkdir -p $(dir $@)
	$(RELEASE)/chunk $(CORPUS) | $(RELEASE)/embed | $(RELEASE)/build-index -o $@

query: index
	@test -n "$(Q)" || { echo "usage: make query Q='your question'" >&2; exit 64; }
	$(RELEASE)/query -k $(K) $(INDEX) "$(Q)"

test:
	$(SWIFT) build
	$(SWIFT) test

bench: release
	$(RELEASE)/ragpipe-bench --shared ../shared --work .build/bench-data

clean:
	rm -rf .build
	find index -type f ! -name .gitkeep -delete
