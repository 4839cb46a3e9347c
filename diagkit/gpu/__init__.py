"""GPU tracing: Nsight Systems exports, the nsys launcher, and the in-process collector.

Nothing here imports CuPy, CUPTI or nvtx at import time: the in-process
collector loads them only once it is started inside a target.
"""
