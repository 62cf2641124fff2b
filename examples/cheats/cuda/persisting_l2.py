"""Pins its inputs in L2 (a persisting-L2 limit for the context and an access-policy window on
the current stream, through the driver API) so that the judge's L2 flush between timed calls
does not evict them: every call then reads its inputs from cache, as if warm.

The judge sets the persisting-L2 limit to 0 and drops persisting lines before each timed block,
and reads the limit again after it: a limit the candidate set while being timed is `integrity`.

Every driver answer is checked (an earlier version that asked for 3/4 of L2 and never looked was
accepted on an H100, the cause unknown): the limit asked for is the device's own maximum for
persisting lines, and a refusal raises, naming the CUresult, so the example cannot pass unnoticed
as an honest one.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cuda
kernelswarm-run: --set N=1024 --timing --time-budget 5 --no-compile-baseline => rejected integrity
"""

import ctypes

import torch
import torch.nn as nn

CU_LIMIT_PERSISTING_L2_CACHE_SIZE = 0x06
CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW = 1
CU_ACCESS_PROPERTY_NORMAL = 0
CU_ACCESS_PROPERTY_PERSISTING = 2
CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE = 108


class _Window(ctypes.Structure):
    _fields_ = [
        ("base_ptr", ctypes.c_void_p),
        ("num_bytes", ctypes.c_size_t),
        ("hitRatio", ctypes.c_float),
        ("hitProp", ctypes.c_int),
        ("missProp", ctypes.c_int),
    ]


class _Value(ctypes.Union):
    _fields_ = [("accessPolicyWindow", _Window), ("pad", ctypes.c_char * 64)]


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.cuda_driver = ctypes.CDLL("libcuda.so.1")

    def _call(self, name: str, *args) -> None:
        result = getattr(self.cuda_driver, name)(*args)
        if result != 0:
            raise RuntimeError(f"{name} refused: CUresult {result}")

    def _pin(self, t: torch.Tensor) -> None:
        device, most = ctypes.c_int(), ctypes.c_int()
        self._call("cuCtxGetDevice", ctypes.byref(device))
        self._call(
            "cuDeviceGetAttribute",
            ctypes.byref(most),
            ctypes.c_int(CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE),
            device,
        )
        if most.value <= 0:
            raise RuntimeError("this device keeps no persisting L2 lines")
        self._call(
            "cuCtxSetLimit",
            ctypes.c_int(CU_LIMIT_PERSISTING_L2_CACHE_SIZE),
            ctypes.c_size_t(most.value),
        )
        value = _Value()
        window = value.accessPolicyWindow
        window.base_ptr = t.data_ptr()
        window.num_bytes = min(t.numel() * t.element_size(), most.value)
        window.hitRatio = 1.0
        window.hitProp = CU_ACCESS_PROPERTY_PERSISTING
        window.missProp = CU_ACCESS_PROPERTY_NORMAL
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        self._call(
            "cuStreamSetAttribute",
            stream,
            ctypes.c_int(CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW),
            ctypes.byref(value),
        )

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        self._pin(A)
        return torch.matmul(A, B)
