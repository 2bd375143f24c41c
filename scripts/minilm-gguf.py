#!/usr/bin/env python3
"""Writes a sentence-transformers BERT folder (all-MiniLM-L6-v2) as an f32 GGUF file for
llama.cpp's `llama-server --embeddings --pooling mean`, with the gguf-py library that ships in
the same llama.cpp source (no torch or transformers: the weights are read from the safetensors
file with numpy, names mapped by gguf-py's BERT tensor map, the WordPiece vocabulary written the
way llama.cpp's BERT converter writes it).

usage: minilm-gguf.py MODEL_DIR GGUF_PY_DIR OUT.gguf
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

model_dir, gguf_py, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
sys.path.insert(0, gguf_py)
import gguf  # noqa: E402

config = json.loads((model_dir / "config.json").read_text())

def safetensors(path):
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    base = 8 + size
    for name, info in header.items():
        if name == "__metadata__" or name == "embeddings.position_ids":
            continue
        assert info["dtype"] == "F32", f"{name}: {info['dtype']}"
        start, end = info["data_offsets"]
        yield name, np.frombuffer(raw[base + start:base + end], dtype=np.float32).reshape(info["shape"])

layers = config["num_hidden_layers"]
writer = gguf.GGUFWriter(str(out), "bert")
writer.add_name(model_dir.name)
writer.add_context_length(config["max_position_embeddings"])
writer.add_embedding_length(config["hidden_size"])
writer.add_feed_forward_length(config["intermediate_size"])
writer.add_block_count(layers)
writer.add_head_count(config["num_attention_heads"])
writer.add_layer_norm_eps(config["layer_norm_eps"])
writer.add_causal_attention(False)
writer.add_pooling_type(gguf.PoolingType.MEAN)
writer.add_file_type(gguf.LlamaFileType.ALL_F32)
writer.add_token_type_count(config.get("type_vocab_size", 2))

# WordPiece vocabulary as llama.cpp's BERT converter writes it: special tokens are CONTROL and
# kept as they are; "##x" continuations lose the "##"; other tokens get the phantom space "▁".
vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
if vocab and vocab[-1] == "":
    vocab.pop()
special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
tokens, types = [], []
for token in vocab:
    if token in special:
        tokens.append(token); types.append(gguf.TokenType.CONTROL)
    elif token.startswith("##"):
        tokens.append(token[2:]); types.append(gguf.TokenType.NORMAL)
    else:
        tokens.append("\u2581" + token); types.append(gguf.TokenType.NORMAL)
writer.add_tokenizer_model("bert")
writer.add_tokenizer_pre("default")
writer.add_token_list(tokens)
writer.add_token_types(types)
gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer)

names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
for name, tensor in safetensors(model_dir / "model.safetensors"):
    if name in ("embeddings.position_ids",) or name.startswith("pooler."):
        continue
    mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        sys.exit(f"minilm-gguf: no GGUF name for tensor {name}")
    writer.add_tensor(mapped, np.ascontiguousarray(tensor))

writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
print(out)
