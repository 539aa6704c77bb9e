"""Code that runs inside the sandbox: the warm runner server and the candidate process.

This package is mounted read-only into every sandbox (bwrap, docker) and imported there as the
top-level package ``runner``; the trusted side imports it as ``sandboxes.runner`` for the shared
wire format and value codec. It therefore uses only the standard library and relative imports,
and holds nothing secret: no test code or expected answer ever reaches a process that imported it
inside the sandbox.
"""
