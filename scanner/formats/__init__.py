"""Bounded readers of file formats that both the inventory and the model checks need: content
sniffing (``sniff``) and the safetensors and GGUF header readers. They return data or raise
``ValueError``; judging what they read (findings) is the model check's job
(``scanner.models.formats``), describing it the inventory's. Nothing here imports either.
"""
