"""Which devices this machine really has, and turning a device string into one."""

from __future__ import annotations

import torch

from tuilab.errors import UserError


def available_devices() -> list[tuple[str, bool, str]]:
    """(device, usable, description or reason) for cpu, each CUDA GPU, and mps."""
    out = [("cpu", True, f"CPU, {torch.get_num_threads()} threads")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append((f"cuda:{i}", True, f"{props.name}, {props.total_memory / 2**30:.0f} GiB"))
    else:
        why = "torch was built without CUDA" if torch.version.cuda is None else "no NVIDIA GPU found"
        out.append(("cuda", False, why))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", True, "Apple GPU"))
    return out


def resolve_device(spec: str) -> torch.device:
    """'auto' picks the first GPU, else cpu; an unavailable device is a UserError saying what is valid."""
    usable = [d for d, ok, _ in available_devices() if ok]
    if spec == "auto":
        gpu = [d for d in usable if d != "cpu"]
        return torch.device(gpu[0] if gpu else "cpu")
    if spec == "cuda:all":  # one lane per GPU, each a Ray actor that sees its GPU as cuda:0
        spec = "cuda"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            reason = next(r for d, ok, r in available_devices() if d == "cuda")
            raise UserError(f"device {spec!r} is not available here ({reason}); valid: {', '.join(usable)}, auto")
        index = int(spec[5:]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"device {spec!r}: this machine has {torch.cuda.device_count()} GPU(s); "
                            f"valid: {', '.join(usable)}, auto")
        return torch.device("cuda", index)
    if spec == "mps" and "mps" not in usable:
        raise UserError(f"device 'mps' is not available here; valid: {', '.join(usable)}, auto")
    return torch.device(spec)
