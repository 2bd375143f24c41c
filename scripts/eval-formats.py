#!/usr/bin/env python3
"""Retrieval on one document in its Markdown source and its HTML, PDF and DOCX renderings
(scripts/eval-formats.sh), and the span check of every chunk.

  eval-formats.py retrieval QUESTIONS.tsv NAME=QUERY_JSON...   one row per rendering
  eval-formats.py spans CHUNKS.jsonl EXTRACTED.txt              every chunk's text at its span

QUESTIONS.tsv: question TAB answer phrase. A hit answers when its text holds the phrase, both
compared as lowercase letters and digits only (so line breaks, a rejoined hyphen or table
bars do not count): hit@1, hit@5 and MRR@5 over the questions."""
import json, re, sys

def norm(s):
    return re.sub(r'[^a-z0-9]', '', s.lower())

def retrieval(questions_path, runs):
    questions = [line.rstrip('\n').split('\t') for line in open(questions_path, encoding='utf-8') if line.strip()]
    print(f"{'rendering':<12} {'questions':>9} {'hit@1':>6} {'hit@5':>6} {'MRR@5':>6}")
    for run in runs:
        name, path = run.split('=', 1)
        results = [json.loads(line) for line in open(path, encoding='utf-8') if line.strip()]
        assert len(results) == len(questions), f"{path}: {len(results)} results for {len(questions)} questions"
        h1 = h5 = rr = 0.0
        for (question, phrase), result in zip(questions, results):
            assert result['query'] == question, (result['query'], question)
            ranks = [h['rank'] for h in result['hits'][:5] if norm(phrase) in norm(h['text'])]
            if ranks:
                h1 += ranks[0] == 1
                h5 += 1
                rr += 1 / ranks[0]
        n = len(questions)
        print(f"{name:<12} {n:>9} {h1 / n:>6.2f} {h5 / n:>6.2f} {rr / n:>6.3f}")

def spans(chunks_path, extracted_path):
    text = open(extracted_path, 'rb').read()
    n = bad = 0
    for line in open(chunks_path, encoding='utf-8'):
        record = json.loads(line)
        if 'end_of_stream' in record:
            continue
        n += 1
        if text[record['start']:record['end']].decode('utf-8') != record['text']:
            bad += 1
            print(f"{chunks_path}: chunk {record['position']} differs from the extracted text at {record['start']}-{record['end']}")
    print(f"{chunks_path}: {n} chunks, {n - bad} found at their span in {extracted_path}")
    return bad == 0

if __name__ == '__main__':
    if len(sys.argv) >= 4 and sys.argv[1] == 'retrieval':
        retrieval(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == 'spans':
        sys.exit(0 if spans(sys.argv[2], sys.argv[3]) else 1)
    else:
        sys.exit(__doc__)
