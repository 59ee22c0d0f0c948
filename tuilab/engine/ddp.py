"""One lane across several workers with torch DistributedDataParallel (the Ray backend's DDP lanes).

Every worker builds the same plan (same seed: same data, initial weights and
minibatch order), joins one process group (gloo on CPU, NCCL on GPU) and takes
its share of every batch's rows (Lane._gradient); DDP averages the gradients, so
each worker takes the same step the single-process lane would.
"""

from __future__ import annotations

import socket

from tuilab.engine.lanes import Lane


def rendezvous_address() -> str:
    """host:port where worker 0 listens for the others: this node's address and a free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    host = socket.gethostbyname(socket.gethostname())
    return f"{host}:{port}"


def join(lane: Lane, rank: int, workers: int, address: str) -> None:
    """Join the lane's process group as `rank` and train through a DDP wrapper from now on."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    cuda = lane.device.type == "cuda"
    dist.init_process_group("nccl" if cuda else "gloo", init_method=f"tcp://{address}",
                            rank=rank, world_size=workers)
    lane.train_model = DistributedDataParallel(lane.model, device_ids=[lane.device.index or 0] if cuda else None)
    lane.shard = (rank, workers)


def leave() -> None:
    """Leave the process group (a worker that ends without it leaves gloo's threads behind)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()

