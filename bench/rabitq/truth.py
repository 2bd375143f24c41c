# Exact top-10 (fp32 dot products) of query .npy files against a base .npy, as int32 rows:
#   python3 truth.py BASE.npy Q1.npy[,Q2.npy…] OUT.i32   (the queries of all files, in order)
import numpy as np, sys
base = np.load(sys.argv[1], mmap_mode='r'); out = sys.argv[3]
qs = [np.load(p) for p in sys.argv[2].split(',')]
q = np.concatenate(qs).astype(np.float32)
n = base.shape[0]; k = 10
best_s = np.full((q.shape[0], k), -np.inf, np.float32); best_i = np.zeros((q.shape[0], k), np.int64)
B = 100000
for s in range(0, n, B):
    x = np.asarray(base[s:s+B], dtype=np.float32)
    sc = q @ x.T
    part = np.argpartition(-sc, k, axis=1)[:, :k]
    ps = np.take_along_axis(sc, part, 1)
    cs = np.concatenate([best_s, ps], 1); ci = np.concatenate([best_i, part + s], 1)
    o = np.argsort(-cs, axis=1)[:, :k]
    best_s = np.take_along_axis(cs, o, 1); best_i = np.take_along_axis(ci, o, 1)
best_i.astype(np.int32).tofile(out)
print(q.shape, 'done')
