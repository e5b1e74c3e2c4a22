"""Static analysis of the Python a model carries (remote code, MLflow code paths, tokenizer
code, any ``*.py`` in a model directory). The code is parsed, never imported or executed.

- ``analyze``: our own AST pass for what matters when a loader imports the code: what runs at
  import time, process and shell execution, dynamic and obfuscated code, network, file-system
  writes, environment and credential reads.
- ``bandit_pass``: PyCQA bandit's checks over the same bytes, for the known dangerous calls our
  pass does not name (unsafe deserializers, weak TLS, temp files …); ``# nosec`` is ignored, the
  artifact never excuses itself.
- ``check``: the gate's ``code`` check over the inventory's code components.
"""
