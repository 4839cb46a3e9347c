"""A running interpreter profiled from outside while it goes on: the Python API, the pytest
plugin and the IPython magics share this.

The process starts a watcher (``watcher_main``: ``diag profile --pid`` on itself, reading
the events its own recorders write), lets it trace it where the kernel's Yama module asks
(``ptracer``), and takes every in-process recorder back out when the window ends.
"""
