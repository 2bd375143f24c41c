#!/usr/bin/env python3
"""ragpipe on Apache Spark: chunk | embed | build-index per partition, shards and a manifest.

    spark-submit --archives ragpipe-spark.tar.gz#ragpipe spark/ragpipe_spark.py \
        --input hdfs:///corpora/scifact/corpus.jsonl --partitions 64 --out /shared/scifact-shards

Reads a BEIR JSONL corpus ({"_id","title","text"} per line) or JSON Lines of documents
({"id","title","text"}) from any path Spark's textFile reads (file://, hdfs://, s3a://, ...),
cuts it into --partitions contiguous ranges in input order, and runs on each partition, with
public PySpark APIs only (mapPartitionsWithIndex, subprocess with an argument list, no shell,
the environment inherited, stderr passed through):

    chunk --format beir DOCS > chunks.jsonl
    embed chunks.jsonl > part-NNNNN.jsonl
    build-index --kind K --codes C -o shard-NNNNN.ragx < part-NNNNN.jsonl

checking every child's exit status and its end-of-stream line (stage and record count), the
chunk ids (unique; embed's in chunk's order; every source one of the partition's documents)
before anything is published. An IVF or sq8 set is trained once: each partition also keeps the
chunks whose id hash falls under --train-fraction (the same sample however the corpus is cut),
one task runs `build-index --train-only` on them, the trained file goes to every executor
through SparkFiles, and a second stage builds each shard with `build-index --centroids` from its
part file, so every shard has the same lists and codes.

Part files and shards go to OUT by copy to a temporary name and rename, so OUT only ever holds
complete files; a task run twice (retry, speculation) writes the same bytes (every stage is
deterministic). The driver checks that every partition reported once, that the documents add up
to the input and that every file on disk is the one its task reported (size and sha256); then
`build-index --manifest` (one task) opens every shard, checks that they form a set and writes
OUT/manifest.json by rename, which `query` and `evaluate` open. A job that fails writes no
manifest: a shard that is not in a manifest is never used. OUT/job.json records what each task
did (attempts, seconds, sha256s).

OUT must be a directory that the executors and the driver all see (local disk in local mode; a
shared POSIX file system such as NFS or Lustre on a cluster): shards are binary files written
with rename, which Spark's text outputs cannot do.

Where the tools come from (--ragpipe): an archive shipped with `--archives FILE#ALIAS` (or
spark.archives), holding bin/{chunk,embed,build-index,query} and models/all-MiniLM-L6-v2 (make
spark-pack), found in the task's working directory (YARN, Kubernetes) or under SparkFiles'
root (local and standalone); or a directory that exists on every worker. --bin and --model
override its two halves.

Test hook (never set in production): RAGPIPE_SPARK_FAULT=STAGE:MODE:PARTITION[:ATTEMPT] (several,
comma-separated) makes the task of PARTITION, on attempt ATTEMPT (default 0), fail at STAGE (chunk, embed or
build-index) by MODE: `kill` feeds the child half its input through a pipe and sends it SIGKILL;
`truncate` runs the child to completion (exit 0) and then cuts its output to half its lines, as a
filter that exits 0 without writing everything would.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RECEIPT_VERSION = 1
STAGES = ("chunk", "embed", "build-index")
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_FAILED = 70


class TaskError(Exception):
    """A partition failed a check: the task fails and Spark retries it (or fails the job)."""


class DriverError(Exception):
    """The job's result is incomplete or inconsistent: no manifest is written."""


# ---------------------------------------------------------------------------------------------
# Shared helpers (driver and executors)


def log(message):
    print(f"ragpipe-spark: {message}", file=sys.stderr, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_beside(target):
    """A new file beside `target` (same file system, so rename is atomic), with the mode a plain
    open would give it (mkstemp's is 0600)."""
    folder = os.path.dirname(target) or "."
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".tmp-", dir=folder)
    os.fchmod(fd, 0o666 & ~_umask())
    return folder, fd, temporary


def _replace_atomically(target, fill):
    """Writes `target` through a temporary name in its folder: `fill(out)` writes the bytes,
    which are synced, then renamed over `target`, so a reader sees the old file or the complete
    new one, never a part; the temporary file goes whatever fails."""
    folder, fd, temporary = _temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    sync_directory(folder)


def publish(source, target):
    """Copies `source` to `target` atomically (`_replace_atomically`)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(source, "rb") as src:
        _replace_atomically(target, lambda out: shutil.copyfileobj(src, out, 1 << 20))


def write_atomically(target, data):
    _replace_atomically(target, lambda out: out.write(data))


def sync_directory(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def part_name(partition):
    return f"part-{partition:05d}.jsonl"


def shard_name(partition):
    return f"shard-{partition:05d}.ragx"


# ---------------------------------------------------------------------------------------------
# Executor side: one partition


def resolve_folder(spec, what):
    """A folder named by an absolute path, or by an archive alias: in the working directory
    (YARN, Kubernetes unpack archives there) or under SparkFiles' root (local, standalone)."""
    candidates = [spec]
    if not os.path.isabs(spec):
        candidates.append(os.path.join(os.getcwd(), spec))
        try:
            from pyspark import SparkFiles
            candidates.append(os.path.join(SparkFiles.getRootDirectory(), spec))
        except Exception:  # not inside Spark (a plain run of a task function)
            pass
    for candidate in candidates:
        if os.path.isdir(candidate):
            return os.path.abspath(candidate)
    raise TaskError(f"{what} '{spec}' not found (looked in {', '.join(candidates)}): ship it with --archives FILE#{spec} or pass a path every worker has")


def tools_of(config):
    need_model = config["embedder"] == "minilm" or config["chunk_model"]
    root = None
    if config["bin"] is None or (need_model and config["model"] is None):
        root = resolve_folder(config["ragpipe"], "--ragpipe")
    bin_dir = resolve_folder(config["bin"], "--bin") if config["bin"] else os.path.join(root, "bin")
    model = None
    if need_model:
        model = resolve_folder(config["model"], "--model") if config["model"] else os.path.join(root, "models", "all-MiniLM-L6-v2")
    tools = {}
    for stage in STAGES:
        path = os.path.join(bin_dir, stage)
        if os.path.isfile(path) and not os.access(path, os.X_OK):
            # Spark unpacks a .tar archive without the files' modes: give ours back their x bits.
            try:
                os.chmod(path, os.stat(path).st_mode | 0o755)
            except OSError:
                pass
        if not os.access(path, os.X_OK):
            raise TaskError(f"{path}: not an executable (the archive's bin/ must hold chunk, embed and build-index)")
        tools[stage] = path
    return tools, model


def fault_for(stage, partition, attempt):
    """The test hook's fault for this stage of this attempt, if any (several, comma-separated)."""
    spec = os.environ.get("RAGPIPE_SPARK_FAULT")
    if not spec:
        return None
    for item in spec.split(","):
        fields = item.split(":")
        if (len(fields) not in (3, 4) or fields[0] not in STAGES or fields[1] not in ("kill", "truncate")
                or not all(f.isdigit() for f in fields[2:])):
            raise TaskError(f"RAGPIPE_SPARK_FAULT='{spec}': expected STAGE:kill|truncate:PARTITION[:ATTEMPT], comma-separated")
        at_attempt = int(fields[3]) if len(fields) == 4 else 0
        if fields[0] == stage and int(fields[2]) == partition and at_attempt == attempt:
            return fields[1]
    return None


def run_child(argv, stdin_path, stdout_path, stage, partition, attempt):
    """Runs one stage: argument list (no shell), the inherited environment, stderr passed
    through, stdout to a file. A non-zero exit or death by a signal fails the task."""
    fault = fault_for(stage, partition, attempt)
    started = time.monotonic()
    with open(stdout_path, "wb") as out:
        if fault == "kill":
            # Feed half the input through a pipe, then kill the child mid-partition.
            with open(stdin_path, "rb") as f:
                data = f.read()
            lines = data.splitlines(keepends=True)
            child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out)
            try:
                child.stdin.write(b"".join(lines[: max(1, len(lines) // 2)]))
                child.stdin.flush()
                time.sleep(0.5)
                log(f"partition {partition} attempt {attempt}: RAGPIPE_SPARK_FAULT kills {stage} (pid {child.pid}) mid-partition")
                os.kill(child.pid, signal.SIGKILL)
                child.stdin.close()
            except BrokenPipeError:
                pass
            status = child.wait()
        else:
            with open(stdin_path, "rb") as f:
                status = subprocess.run(argv, stdin=f, stdout=out).returncode
    if status < 0:
        raise TaskError(f"partition {partition}: {stage} was killed by signal {-status} ({' '.join(argv)})")
    if status != 0:
        raise TaskError(f"partition {partition}: {stage} exited with status {status} ({' '.join(argv)})")
    if fault == "truncate":
        with open(stdout_path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(stdout_path, "wb") as f:
            f.write(b"".join(lines[: len(lines) // 2]))
        log(f"partition {partition} attempt {attempt}: RAGPIPE_SPARK_FAULT cut {stage}'s output to {len(lines) // 2} of {len(lines)} lines (exit 0)")
    return time.monotonic() - started


def check_stream(path, stage, partition):
    """The records of one stage's output and its one end-of-stream line: the line must be the
    last, name `stage` and count every record. Returns the records' ids, sources and (for embed)
    the model and dimension. A line that is not UTF-8 JSON fails the task."""
    ids, sources = [], []
    model = dim = None
    marker = None
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            where = f"partition {partition}: {stage} output line {number}"
            if marker is not None:
                raise TaskError(f"{where}: a line after the end_of_stream line")
            if not raw.endswith(b"\n"):
                raise TaskError(f"{where}: the last line has no newline (the stream was cut)")
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                raise TaskError(f"{where}: not a UTF-8 JSON line ({error})")
            if not isinstance(record, dict):
                raise TaskError(f"{where}: not a JSON object")
            if "end_of_stream" in record:
                marker = record["end_of_stream"]
                continue
            if not isinstance(record.get("id"), str):
                raise TaskError(f"{where}: a record without an id")
            ids.append(record["id"])
            sources.append(record.get("source"))
            if stage == "embed":
                if model is None:
                    model, dim = record.get("model"), record.get("dim")
                elif (record.get("model"), record.get("dim")) != (model, dim):
                    raise TaskError(f"{where}: model {record.get('model')}/{record.get('dim')} after {model}/{dim}")
    if marker is None:
        raise TaskError(f"partition {partition}: {stage}'s output ends without an end_of_stream line ({len(ids)} records read): the stream is incomplete")
    if not isinstance(marker, dict) or marker.get("version") != 1 or marker.get("stage") != stage or marker.get("records") != len(ids):
        raise TaskError(f"partition {partition}: {stage}'s end_of_stream line {json.dumps(marker)} does not match its {len(ids)} records")
    return ids, sources, model, dim


def ids_digest(ids):
    h = hashlib.sha256()
    for i in ids:
        h.update(i.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def beir_line(raw, number, partition, input_format):
    """The document line as chunk --format beir reads it, and its id."""
    try:
        doc = json.loads(raw)
    except ValueError as error:
        raise TaskError(f"input document {number + 1} (non-blank line): not a JSON line ({error})")
    if not isinstance(doc, dict):
        raise TaskError(f"input document {number + 1} (non-blank line): not a JSON object")
    if input_format == "documents" and "_id" not in doc:
        if "id" not in doc:
            raise TaskError(f"input document {number + 1} (non-blank line): no \"id\"")
        doc = {"_id": doc["id"], "title": doc.get("title") or "", "text": doc.get("text")}
        raw = json.dumps(doc, ensure_ascii=False)
    identifier = doc.get("_id")
    if isinstance(identifier, int):
        identifier = str(identifier)
    if not isinstance(identifier, str) or not identifier:
        raise TaskError(f"input document {number + 1} (non-blank line): no \"_id\"")
    return raw, identifier


def task_attempt():
    from pyspark import TaskContext
    context = TaskContext.get()
    return (context.attemptNumber(), context.taskAttemptId()) if context else (0, 0)


def in_sample(identifier, fraction):
    """Whether a chunk is in the training sample: decided by its id (a hash) alone, so the
    sample is the same however the corpus is partitioned and on every attempt."""
    return fraction >= 1 or int(identifier[:8], 16) < fraction * 2 ** 32


def build_shard(config, tools, partition, attempt, work, part_path, timings, centroids=None):
    """build-index over one part file; the shard's receipt entry, once it is published."""
    shard = os.path.join(work, shard_name(partition))
    argv = [tools["build-index"], "-o", shard] + (["--centroids", centroids] if centroids else []) + config["index_args"]
    timings["build-index"] = run_child(argv, part_path, os.path.join(work, "build-index.out"), "build-index", partition, attempt)
    if not os.path.isfile(shard):
        raise TaskError(f"partition {partition}: build-index exited 0 but wrote no {shard}")
    entry = {"path": "shards/" + shard_name(partition), "bytes": os.path.getsize(shard), "sha256": sha256_file(shard)}
    publish(shard, os.path.join(config["out"], "shards", shard_name(partition)))
    return entry


def run_partition(config, partition, rows):
    """Stage 1, one partition's documents (row, line): chunk, embed, checked, the part file
    published; then its shard, unless the shards wait for trained centroids (stage 2)."""
    attempt, task_attempt_id = task_attempt()
    tools, model = tools_of(config)
    out = config["out"]
    work = tempfile.mkdtemp(prefix=f"ragpipe-spark-{partition:05d}-{task_attempt_id}-")
    timings = {}
    try:
        documents = os.path.join(work, "documents.jsonl")
        doc_ids = set()
        first_row = None
        with open(documents, "w", encoding="utf-8", newline="\n") as f:
            for row, raw in rows:
                if first_row is None:
                    first_row = row
                line, identifier = beir_line(raw, row, partition, config["format"])
                if identifier in doc_ids:
                    raise TaskError(f"partition {partition}: input document {row + 1}: id '{identifier}' again")
                doc_ids.add(identifier)
                f.write(line)
                f.write("\n")
        chunks = os.path.join(work, "chunks.jsonl")
        argv = [tools["chunk"], "--format", "beir"] + (["--model", model] if model else []) + config["chunk_args"]
        timings["chunk"] = run_child(argv, documents, chunks, "chunk", partition, attempt)
        chunk_ids, sources, _, _ = check_stream(chunks, "chunk", partition)
        if len(set(chunk_ids)) != len(chunk_ids):
            raise TaskError(f"partition {partition}: chunk wrote a chunk id twice")
        strangers = set(sources) - doc_ids
        if strangers:
            raise TaskError(f"partition {partition}: chunk records name sources that are not the partition's documents: {sorted(strangers)[:3]}")

        embedded = os.path.join(work, part_name(partition))
        argv = [tools["embed"], "--embedder", config["embedder"]] + (["--model", model] if config["embedder"] == "minilm" else [])
        if config["embedder"] == "minilm" and not any(a.startswith("--threads") for a in config["embed_args"]):
            argv += ["--threads", str(config["task_cpus"])]  # the cores Spark gave the task, no more
        argv += config["embed_args"]
        timings["embed"] = run_child(argv, chunks, embedded, "embed", partition, attempt)
        embed_ids, _, model_id, dim = check_stream(embedded, "embed", partition)
        if embed_ids != chunk_ids:
            raise TaskError(f"partition {partition}: embed's records are not chunk's ({len(embed_ids)} against {len(chunk_ids)}, or in another order)")

        receipt = {
            "version": RECEIPT_VERSION, "partition": partition, "attempt": attempt, "task_attempt_id": task_attempt_id,
            "first_row": first_row, "documents": len(doc_ids), "records": len(chunk_ids), "ids_sha256": ids_digest(chunk_ids),
            "model": model_id, "dim": dim, "documents_without_chunks": len(doc_ids - set(sources)), "shard": None,
        }
        publish(embedded, os.path.join(out, "parts", part_name(partition)))
        receipt["part"] = {"path": "parts/" + part_name(partition), "bytes": os.path.getsize(embedded), "sha256": sha256_file(embedded)}

        if config["train"]:
            # The training sample: the records whose id hash falls under the fraction, as a stream.
            sample = os.path.join(work, f"sample-{partition:05d}.jsonl")
            kept = 0
            with open(embedded, "rb") as src, open(sample, "wb") as dst:
                for raw in src:
                    if raw.startswith(b'{"end_of_stream"'):
                        continue
                    if in_sample(json.loads(raw)["id"], config["train_fraction"]):
                        dst.write(raw)
                        kept += 1
                dst.write(json.dumps({"end_of_stream": {"version": 1, "stage": "embed", "records": kept}}, separators=(",", ":")).encode() + b"\n")
            publish(sample, os.path.join(out, "train", f"sample-{partition:05d}.jsonl"))
            receipt["sample"] = {"path": f"train/sample-{partition:05d}.jsonl", "records": kept}
        elif config["build"] and chunk_ids:
            receipt["shard"] = build_shard(config, tools, partition, attempt, work, embedded, timings)
        receipt["seconds"] = {k: round(v, 3) for k, v in timings.items()}
        yield receipt
    finally:
        shutil.rmtree(work, ignore_errors=True)


def train_task(config, inputs):
    """The one training task: build-index --train-only over every partition's sample."""
    attempt, task_attempt_id = task_attempt()
    tools, _ = tools_of(config)
    work = tempfile.mkdtemp(prefix=f"ragpipe-spark-train-{task_attempt_id}-")
    try:
        samples = [os.path.join(config["out"], path) for path in inputs]
        trained = os.path.join(work, "trained.ragq")
        argv = [tools["build-index"], "--train-only", "-o", trained] + config["train_args"] + samples
        started = time.monotonic()
        status = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
        if status != 0:
            raise TaskError(f"training: build-index --train-only exited with status {status} ({' '.join(argv)})")
        publish(trained, os.path.join(config["out"], "trained.ragq"))
        yield {"path": "trained.ragq", "bytes": os.path.getsize(trained), "sha256": sha256_file(trained),
               "seconds": round(time.monotonic() - started, 3), "attempt": attempt}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def shard_task(config, partition, items):
    """Stage 2 (trained sets): the partition's part file into a shard with the shared centroids."""
    from pyspark import SparkFiles
    records = list(items)[0]
    attempt, task_attempt_id = task_attempt()
    tools, _ = tools_of(config)
    work = tempfile.mkdtemp(prefix=f"ragpipe-spark-shard-{partition:05d}-{task_attempt_id}-")
    timings = {}
    try:
        entry = None
        if records > 0:
            part = os.path.join(config["out"], "parts", part_name(partition))
            entry = build_shard(config, tools, partition, attempt, work, part, timings, centroids=SparkFiles.get("trained.ragq"))
        yield {"partition": partition, "shard": entry, "attempt": attempt, "seconds": timings.get("build-index", 0)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def manifest_task(config, shard_paths):
    """build-index --manifest over the shards: it opens every one, checks that they form a set
    (model, codes, lists, quantizer) and writes OUT/manifest.json by rename, the commit point."""
    tools, _ = tools_of(config)
    out = config["out"]
    argv = [tools["build-index"], "--manifest", "-o", os.path.join(out, "manifest.json")] + [os.path.join(out, p) for p in shard_paths]
    status = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    if status != 0:
        raise TaskError(f"build-index --manifest exited with status {status} ({' '.join(argv)})")
    yield True


# ---------------------------------------------------------------------------------------------
# Driver side


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and EX_USAGE, as the tools do (argparse's is 2)
        self.exit(EXIT_USAGE, f"ragpipe-spark: {message} (--help lists the options)\n")


def parse_args(argv):
    p = _Parser(prog="ragpipe_spark.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="corpus: BEIR JSONL or JSON Lines of documents, any path Spark's textFile reads")
    p.add_argument("--out", required=True, help="output folder every executor and the driver see (created; must be empty or absent unless --overwrite)")
    p.add_argument("--partitions", type=int, required=True, help="partitions = shards (contiguous ranges of the input, in order)")
    p.add_argument("--format", choices=("beir", "documents"), default="beir", help="beir: {\"_id\",\"title\",\"text\"}; documents: {\"id\",\"title\",\"text\"}")
    p.add_argument("--ragpipe", default="ragpipe", help="archive alias (--archives FILE#ALIAS) or folder with bin/ and models/ (default: ragpipe)")
    p.add_argument("--bin", help="folder with chunk, embed and build-index (overrides the archive's bin/)")
    p.add_argument("--model", help="model folder (overrides the archive's models/all-MiniLM-L6-v2)")
    p.add_argument("--embedder", choices=("minilm", "hash"), default="minilm")
    p.add_argument("--kind", choices=("flat", "ivf"), default="flat", help="shard layout; ivf trains centroids once on a sample (build-index --train-only) and every shard uses them (--centroids)")
    p.add_argument("--codes", choices=("fp32", "fp16", "sq8"), default="fp32", help="vector codes; sq8 ranges are trained once like centroids")
    p.add_argument("--train-fraction", type=float, default=1.0, help="share of the chunks (chosen by id hash) that --train-only trains on (default 1: all)")
    p.add_argument("--chunk-arg", action="append", default=[], help="one more argument for chunk (repeatable), e.g. --chunk-arg=--no-split")
    p.add_argument("--embed-arg", action="append", default=[], help="one more argument for embed (repeatable); embed gets --threads spark.task.cpus unless given one")
    p.add_argument("--index-arg", action="append", default=[], help="one more argument for each shard's build-index (repeatable), e.g. --index-arg=--no-bm25")
    p.add_argument("--train-arg", action="append", default=[], help="one more argument for build-index --train-only (repeatable), e.g. --train-arg=--nlist=64")
    p.add_argument("--no-index", action="store_true", help="stop after the part files (no shards, no manifest)")
    p.add_argument("--archives", help="when not run by spark-submit: FILE#ALIAS to ship (sets spark.archives), e.g. .build/spark/ragpipe-spark.tar#ragpipe")
    p.add_argument("--master", help="Spark master when not run by spark-submit (e.g. local[2]; local[2,4] retries a failed task)")
    p.add_argument("--overwrite", action="store_true", help="empty OUT first")
    p.add_argument("--skip-hash-check", action="store_true", help="check the files' sizes only, not their sha256 (huge shards)")
    args = p.parse_args(argv)
    if args.partitions < 1:
        p.error("--partitions must be at least 1")
    if not 0 < args.train_fraction <= 1:
        p.error("--train-fraction must be in (0, 1]")
    return args


def prepare_out(out, overwrite):
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise DriverError(f"{out}: exists and is not a folder")
        if os.listdir(out):
            if not overwrite:
                raise DriverError(f"{out}: not empty (pass --overwrite to replace what is there)")
            # The manifest goes first: from here on, no reader takes the old shards as a set.
            try:
                os.unlink(os.path.join(out, "manifest.json"))
            except FileNotFoundError:
                pass
            for name in os.listdir(out):
                path = os.path.join(out, name)
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    os.makedirs(os.path.join(out, "parts"), exist_ok=True)


def check_file(out, entry, owner, hash_check):
    path = os.path.join(out, entry["path"])
    if not os.path.isfile(path):
        raise DriverError(f"{path}: missing ({owner} reported it)")
    size = os.path.getsize(path)
    if size != entry["bytes"]:
        raise DriverError(f"{path}: {size} bytes, {owner} wrote {entry['bytes']}")
    if hash_check and sha256_file(path) != entry["sha256"]:
        raise DriverError(f"{path}: sha256 differs from what {owner} wrote")


def check_receipts(receipts, partitions, total_documents):
    by_partition = {}
    for r in receipts:
        if r.get("version") != RECEIPT_VERSION:
            raise DriverError(f"partition {r.get('partition')}: receipt version {r.get('version')}")
        if r["partition"] in by_partition:
            raise DriverError(f"partition {r['partition']} reported twice")
        by_partition[r["partition"]] = r
    missing = sorted(set(range(partitions)) - set(by_partition))
    if missing or len(by_partition) != partitions:
        raise DriverError(f"partitions {missing[:5]} reported nothing ({len(by_partition)} of {partitions} reported)")
    ordered = [by_partition[i] for i in range(partitions)]
    documents = sum(r["documents"] for r in ordered)
    if documents != total_documents:
        raise DriverError(f"the partitions hold {documents} documents, the input {total_documents}")
    models = {(r["model"], r["dim"]) for r in ordered if r["records"] > 0}
    if len(models) > 1:
        raise DriverError(f"the partitions were embedded with different models: {sorted(models)}")
    if not models:
        raise DriverError("no partition has a chunk")
    return ordered, next(iter(models))


def check_folders(out, ordered):
    """Nothing may sit beside the job's files as if it were one of them; temporaries of attempts
    that died before their rename (dot files) are removed."""
    expected = {"parts": {r["part"]["path"] for r in ordered}, "shards": {r["shard"]["path"] for r in ordered if r["shard"]},
                "train": {r["sample"]["path"] for r in ordered if r.get("sample")}}
    for folder, names in expected.items():
        full = os.path.join(out, folder)
        if not os.path.isdir(full):
            continue
        for name in os.listdir(full):
            if f"{folder}/{name}" in names:
                continue
            if name.startswith("."):
                os.unlink(os.path.join(full, name))
                continue
            raise DriverError(f"{os.path.join(full, name)}: not written by this job")


def failure_reason(error):
    # The task's own one-line reason is inside the Java exception's text, after its traceback.
    text = str(error).strip().splitlines()
    reasons = [line.split("TaskError:", 1)[1].strip() for line in text if re.match(r"^\s*(\w+\.)?TaskError:", line)]
    return reasons[-1] if reasons else (text[0] if text else type(error).__name__)


def main(argv):
    args = parse_args(argv)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        log("pyspark is not installed for this python (scripts/spark-venv.sh makes a venv; or run with spark-submit)")
        return EXIT_USAGE
    out = os.path.abspath(args.out)
    started = time.monotonic()
    try:
        prepare_out(out, args.overwrite)
    except (DriverError, OSError) as error:
        log(str(error))
        return EXIT_USAGE

    builder = SparkSession.builder.appName("ragpipe-spark")
    if args.master:
        builder = builder.master(args.master)
    if args.archives:
        builder = builder.config("spark.archives", args.archives)
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("ERROR")
    spark_ready = time.monotonic()
    train = not args.no_index and (args.kind == "ivf" or args.codes == "sq8")
    shape = ["--kind", args.kind, "--codes", args.codes]
    config = {
        "out": out, "format": args.format, "ragpipe": args.ragpipe, "bin": args.bin, "model": args.model,
        "embedder": args.embedder, "chunk_model": not (args.bin and not args.model and args.embedder == "hash"),
        "chunk_args": args.chunk_arg, "embed_args": args.embed_arg,
        # With training, the shape goes to --train-only and the shards take it from the file.
        "index_args": ([] if train else shape) + args.index_arg, "train_args": shape + args.train_arg, "build": not args.no_index,
        "train": train, "train_fraction": args.train_fraction,
        "task_cpus": max(1, int(sc.getConf().get("spark.task.cpus", "1"))),
    }
    n = args.partitions
    trained = None
    try:
        # Contiguous ranges of the input in order: row i goes to partition i·N/total, and each
        # partition is sorted by row, so part-* in name order is the input order, on every attempt.
        lines = sc.textFile(args.input).filter(lambda line: line.strip() != "")
        indexed = lines.zipWithIndex().map(lambda pair: (pair[1], pair[0]))
        from pyspark import StorageLevel
        indexed = indexed.persist(StorageLevel.MEMORY_AND_DISK)
        total = indexed.count()
        if total == 0:
            raise DriverError(f"{args.input}: no documents")
        # Chunk ids hash the document id: two documents under one id anywhere in the corpus would
        # collide, and chunk only sees its own partition. Checked before anything is embedded.
        fmt = args.format
        ids = indexed.map(lambda pair: beir_line(pair[1], pair[0], -1, fmt)[1])
        if ids.distinct().count() != total:
            repeated = ids.map(lambda i: (i, 1)).reduceByKey(lambda a, b: a + b).filter(lambda kv: kv[1] > 1).take(1)
            raise DriverError(f"{args.input}: document id '{repeated[0][0]}' appears {repeated[0][1]} times: chunk ids would collide")
        ranged = indexed.repartitionAndSortWithinPartitions(n, partitionFunc=lambda row: row * n // total)
        receipts = ranged.mapPartitionsWithIndex(lambda i, rows: run_partition(config, i, rows)).collect()
        ordered, (model, dim) = check_receipts(receipts, n, total)
        hash_check = not args.skip_hash_check
        for r in ordered:
            check_file(out, r["part"], f"partition {r['partition']}", hash_check)
        stage1_done = time.monotonic()
        if train:
            samples = [r["sample"]["path"] for r in ordered if r["sample"]["records"] > 0]
            trained = sc.parallelize([samples], 1).mapPartitions(lambda items: train_task(config, next(iter(items)))).collect()[0]
            check_file(out, trained, "the training task", hash_check)
            sc.addFile(os.path.join(out, "trained.ragq"))
            counts = [r["records"] for r in ordered]
            built = sc.parallelize(counts, n).mapPartitionsWithIndex(lambda i, items: shard_task(config, i, items)).collect()
            for b in built:
                ordered[b["partition"]]["shard"] = b["shard"]
                ordered[b["partition"]]["seconds"]["build-index"] = b["seconds"]
                ordered[b["partition"]]["shard_attempt"] = b["attempt"]
            if sorted(b["partition"] for b in built) != list(range(n)):
                raise DriverError("the shard stage did not report every partition once")
        if config["build"]:
            for r in ordered:
                if (r["shard"] is None) != (r["records"] == 0):
                    raise DriverError(f"partition {r['partition']}: {r['records']} records but {'no' if r['shard'] is None else 'a'} shard")
                if r["shard"]:
                    check_file(out, r["shard"], f"partition {r['partition']}", hash_check)
        check_folders(out, ordered)
        finished = time.monotonic()
        seconds = {stage: round(sum(r["seconds"].get(stage, 0) for r in ordered), 2) for stage in STAGES}
        # What each task did (attempts, seconds, sha256s), for the logs and the tests; not read by query.
        job = {"ragpipe_spark_job": 1, "input": args.input, "documents": total, "records": sum(r["records"] for r in ordered),
               "model": model, "dim": dim, "partitions": n, "kind": args.kind, "codes": args.codes, "trained": trained,
               "spark_start_seconds": round(spark_ready - started, 3), "stage1_seconds": round(stage1_done - spark_ready, 3),
               "job_seconds": round(finished - spark_ready, 3), "task_seconds": seconds, "receipts": ordered}
        write_atomically(os.path.join(out, "job.json"), (json.dumps(job, indent=1) + "\n").encode("utf-8"))
        if config["build"]:
            shards = [r["shard"]["path"] for r in ordered if r["shard"]]
            sc.parallelize([shards], 1).mapPartitions(lambda items: manifest_task(config, next(iter(items)))).collect()
            check_manifest(out, ordered)
    except DriverError as error:
        log(str(error) + "; no manifest written")
        spark.stop()
        return EXIT_DATA
    except Exception as error:  # a task failed more often than spark.task.maxFailures allows
        log(f"the job failed: {failure_reason(error)}; no manifest written")
        spark.stop()
        return EXIT_FAILED
    retried = [r["partition"] for r in ordered if r["attempt"] > 0 or r.get("shard_attempt", 0) > 0]
    log(f"{total} documents → {job['records']} chunks in {n} partitions → {out}/" + ("manifest.json" if config["build"] else "parts")
        + f"; spark start {spark_ready - started:.1f} s, job {time.monotonic() - spark_ready:.1f} s; "
        f"in tasks: chunk {seconds['chunk']} s, embed {seconds['embed']} s, build-index {seconds['build-index']} s"
        + (f", training {trained['seconds']} s" if trained else "")
        + (f"; retried partitions {retried}" if retried else ""))
    spark.stop()
    return 0


def check_manifest(out, ordered):
    """The manifest build-index wrote names exactly the shards the tasks reported, in order."""
    path = os.path.join(out, "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        listed = [(s["path"], s["count"], s["size"]) for s in manifest["shards"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DriverError(f"{path}: unreadable ({error})")
    expected = [(r["shard"]["path"], r["records"], r["shard"]["bytes"]) for r in ordered if r["shard"]]
    if listed != expected:
        os.unlink(path)
        raise DriverError(f"{path}: names {listed[:2]}…, the tasks wrote {expected[:2]}… (removed)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
