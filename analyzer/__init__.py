"""Effect analysis of eBPF actions: from ELF bytes and verifier logs to verdicts.

This package never imports ``extframe``, never touches the kernel and never
runs a subprocess: every function here maps bytes or text to values.
"""
