# Peer embedders for the embedding benchmark (issue 13, item 4): sentence-transformers on torch CPU
# and ONNX Runtime (fp32, dynamic int8), run by bench/embed_peers.py in a venv of their own.
# Included by the main Makefile. Exposes:
#   make bench-venv      create/update $(BENCH_VENV); a no-op once $(BENCH_PEERS_STAMP) is up to date;
#                        its messages go to stderr, so a target printing JSON can depend on it
#   BENCH_PYTHON         the venv's python, to run bench/embed_peers.py with
#   BENCH_PEERS_STAMP    exists only when the venv has the peers; without it, skip their rows
#   make bench-peers     the peers alone on $(BENCH_PEER_TEXTS), JSON on stdout (for a quick look)
#   make bench-ann-venv  faiss-cpu and hnswlib (pinned) in the same venv, for the IVF benchmark's peers
#                        (bench/ann_peers.py); BENCH_ANN_STAMP exists only when they import
#
# torch comes only from the local CPU wheel in $PIP_FIND_LINKS: PyPI's default torch wheel is the
# multi-GB CUDA build, and the benchmark must use the very torch the reference numbers came from.
# Everything else resolves against a constraints file pinning torch to that wheel's version, so
# pip can neither upgrade nor replace it.

BENCH_VENV          ?= .build/bench-venv
BENCH_PYTHON        := $(BENCH_VENV)/bin/python
BENCH_PEERS_STAMP   := $(BENCH_VENV)/.peers-ready
BENCH_PEER_PACKAGES ?= sentence-transformers onnxruntime onnx numpy
BENCH_TORCH_WHEELS  := $(wildcard $(addsuffix /torch-*+cpu-*.whl,$(PIP_FIND_LINKS)))
BENCH_SKIP_PEERS     = the sentence-transformers and ONNX Runtime rows are skipped

BENCH_PEER_DOCS     ?= 400
BENCH_PEER_THREADS  ?= 2
BENCH_PEER_REPEATS  ?= 2
BENCH_PEER_LIST     ?= st,ort-fp32,ort-int8
BENCH_PEER_TEXTS    := .build/bench-data/scifact-$(BENCH_PEER_DOCS).txt

.PHONY: bench-venv bench-peers

ifeq ($(strip $(PIP_FIND_LINKS)),)
bench-venv:
	@echo "bench-venv: PIP_FIND_LINKS is not set, so there is no local torch CPU wheel: $(BENCH_SKIP_PEERS)" >&2
else ifeq ($(strip $(BENCH_TORCH_WHEELS)),)
bench-venv:
	@echo "bench-venv: no torch-*+cpu-*.whl in PIP_FIND_LINKS ($(PIP_FIND_LINKS)): $(BENCH_SKIP_PEERS)" >&2
else
bench-venv: $(BENCH_PEERS_STAMP)

# The stamp is written last, so an interrupted install is retried rather than taken as done.
$(BENCH_PEERS_STAMP): $(BENCH_TORCH_WHEELS) bench/peers.mk
	@tag=$$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])'); \
	wheel=$$(ls $(BENCH_TORCH_WHEELS) | grep -F -- "-$$tag-$$tag-" | head -n 1 || true); \
	if [ -z "$$wheel" ]; then \
	  echo "bench-venv: no torch CPU wheel for $$tag (python3) in PIP_FIND_LINKS ($(PIP_FIND_LINKS)): $(BENCH_SKIP_PEERS)" >&2; \
	  exit 0; \
	fi; \
	rm -f $@; \
	test -x $(BENCH_PYTHON) || python3 -m venv $(BENCH_VENV); \
	echo "bench-venv: torch from $$wheel" >&2; \
	$(BENCH_PYTHON) -m pip install --quiet --disable-pip-version-check "$$wheel"; \
	version=$$($(BENCH_PYTHON) -c 'import importlib.metadata as m; print(m.version("torch"))'); \
	echo "torch==$$version" > $(BENCH_VENV)/torch-constraint.txt; \
	echo "bench-venv: $(BENCH_PEER_PACKAGES), torch pinned to $$version" >&2; \
	$(BENCH_PYTHON) -m pip install --quiet --disable-pip-version-check \
	  -c $(BENCH_VENV)/torch-constraint.txt $(BENCH_PEER_PACKAGES); \
	$(BENCH_PYTHON) -m pip freeze --disable-pip-version-check > $@.partial; \
	mv -f $@.partial $@; \
	echo "bench-venv: ready ($(BENCH_PYTHON))" >&2
endif

$(BENCH_PEER_TEXTS): data/scifact/corpus.jsonl.gz bench/scifact_texts.py
	@mkdir -p $(dir $@)
	@python3 bench/scifact_texts.py $< $(BENCH_PEER_DOCS) > $@.partial
	@mv -f $@.partial $@

bench-peers: bench-venv model $(BENCH_PEER_TEXTS)
	@test -f $(BENCH_PEERS_STAMP) || { echo "bench-peers: no peer venv: $(BENCH_SKIP_PEERS)" >&2; exit 0; }; \
	$(BENCH_PYTHON) bench/embed_peers.py --model $(MODEL_DIR) --texts $(BENCH_PEER_TEXTS) \
	  --threads $(BENCH_PEER_THREADS) --repeats $(BENCH_PEER_REPEATS) --peers $(BENCH_PEER_LIST) \
	  --work .build/bench-data/onnx --vectors-out .build/bench-data/peer-vectors

# The IVF benchmark's peers (issue 16): FAISS IVF-SQ8 and hnswlib on the same vectors, in the same
# run. They need no torch, so they have a stamp of their own; with the torch constraints file
# present they install against it, so they cannot move torch either.
BENCH_ANN_PACKAGES ?= faiss-cpu==1.15.1 hnswlib==0.8.0 numpy
BENCH_ANN_STAMP    := $(BENCH_VENV)/.ann-peers-ready

.PHONY: bench-ann-venv
bench-ann-venv: $(BENCH_ANN_STAMP)

$(BENCH_ANN_STAMP): bench/peers.mk
	@rm -f $@; \
	test -x $(BENCH_PYTHON) || python3 -m venv $(BENCH_VENV); \
	echo "bench-ann-venv: $(BENCH_ANN_PACKAGES)" >&2; \
	if $(BENCH_PYTHON) -m pip install --quiet --disable-pip-version-check \
	     $$(test -f $(BENCH_VENV)/torch-constraint.txt && echo -c $(BENCH_VENV)/torch-constraint.txt) $(BENCH_ANN_PACKAGES) \
	   && $(BENCH_PYTHON) -c 'import faiss, hnswlib, numpy'; then \
	  $(BENCH_PYTHON) -m pip freeze --disable-pip-version-check > $@.partial; \
	  mv -f $@.partial $@; \
	  echo "bench-ann-venv: ready ($(BENCH_PYTHON))" >&2; \
	else \
	  echo "bench-ann-venv: faiss-cpu/hnswlib could not be installed: the FAISS and hnswlib rows are skipped" >&2; \
	fi
