# Random edits through the FUSE mount against the same edits on a local
# file (run by fs_fuse.sh): pwrite anywhere (also past the end), ftruncate
# shorter and longer, preads compared, fsync (a commit in the middle) and
# reopen. Seeded, so a failure reproduces. Exit 0 if both files end equal.
import os
import random
import sys

mnt, loc, seed, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
BS = 1 << 20
init = rnd.randbytes(3 * BS + 12345)
for p in (mnt, loc):
    with open(p, "wb") as f:
        f.write(init)
fds = [os.open(mnt, os.O_RDWR), os.open(loc, os.O_RDWR)]
for i in range(rounds):
    op = rnd.random()
    size = os.fstat(fds[1]).st_size
    if op < 0.5:
        off = rnd.randrange(0, size + BS)
        data = rnd.randbytes(rnd.choice([1, 100, 5000, BS, BS + 7]))
        for fd in fds:
            os.pwrite(fd, data, off)
    elif op < 0.65:
        n = rnd.randrange(0, size + 2 * BS)
        for fd in fds:
            os.ftruncate(fd, n)
    elif op < 0.8:
        off = rnd.randrange(0, size + 10)
        n = rnd.choice([10, 70000, BS + 3])
        if os.pread(fds[0], n, off) != os.pread(fds[1], n, off):
            print("seed %d round %d: pread(%d, %d) differs" % (seed, i, n, off))
            sys.exit(1)
    elif op < 0.9:
        os.fsync(fds[0])
    else:
        os.close(fds[0])
        fds[0] = os.open(mnt, os.O_RDWR)
for fd in fds:
    os.close(fd)
with open(mnt, "rb") as a, open(loc, "rb") as b:
    same = a.read() == b.read()
print("seed %d: %s" % (seed, "equal" if same else "DIFFERENT"))
sys.exit(0 if same else 1)
