"""torch.distributed (Gloo) all-reduce of float32 from 4 B to 64 MiB on the
sizes of bench/dist_allreduce.c, for docs/PERFORMANCE.md.

    mpirun -np 2 /usr/bin/python3 bench/dist_allreduce_torch.py

mpirun only launches the processes: Gloo connects them itself over TCP on
127.0.0.1 (MASTER_PORT, default 29533). Debian's python3-torch is enough.
Prints, per size, the minimum and the median time in microseconds.
"""
import os
import time

import torch
import torch.distributed as dist


def main():
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0")))
    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE", os.environ.get("PMI_SIZE", "1")))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    dist.init_process_group("gloo", rank=rank, world_size=size)
    torch.set_num_threads(1)
    if rank == 0:
        print("%10s %10s %10s" % ("bytes", "gloo_min", "gloo_med"))
    nbytes = 4
    while nbytes <= 64 << 20:
        x = torch.arange(nbytes // 4, dtype=torch.float32)
        reps = 2000 if nbytes <= 64 << 10 else 200 if nbytes < 1 << 20 else 20 if nbytes < 16 << 20 else 6
        times = []
        for r in range(reps + 3):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(x)
            t1 = time.perf_counter()
            if r >= 3:
                times.append(t1 - t0)
        times.sort()
        if rank == 0:
            print("%10d %10.2f %10.2f" % (nbytes, times[0] * 1e6, times[len(times) // 2] * 1e6), flush=True)
        nbytes *= 4
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
