"""The official OpenAI Python client against `serve` (ServeTests): one chat completion, the same
streamed, and embeddings; prints what it got as one JSON object for the Swift test to check.

    python openai_client.py BASE_URL QUESTION
"""
import json, sys
from openai import OpenAI

base, question = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=60)
models = [m.id for m in client.models.list().data]
reply = client.chat.completions.create(model=models[0], messages=[
    {"role": "system", "content": "Answer from the index."},
    {"role": "user", "content": question},
], temperature=0)
pieces, finish = [], None
for chunk in client.chat.completions.create(model=models[0], messages=[{"role": "user", "content": question}], stream=True):
    if chunk.choices:
        if chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        finish = chunk.choices[0].finish_reason or finish
embeddings = client.embeddings.create(model=models[1], input=[question, "second text"])
print(json.dumps({
    "models": models,
    "content": reply.choices[0].message.content,
    "finish_reason": reply.choices[0].finish_reason,
    "streamed": "".join(pieces),
    "stream_finish": finish,
    "embedding_count": len(embeddings.data),
    "embedding_dimension": len(embeddings.data[0].embedding),
    "embedding_model": embeddings.model,
}))
