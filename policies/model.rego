# Unsafe model serialization: open model findings at critical or high severity, and any model
# file the scanner could not fully examine (MODEL-UNSCANNABLE). Blocks every stage by default.
package scanner.gate

import rego.v1

unsafe_model := [i |
	some s in ["critical", "high"]
	some i in object.get(open_index, ["by_check", "model", s], [])
	input.findings[i].id != "MODEL-UNSCANNABLE"
]

violation contains {
	"rule": "model-unsafe",
	"message": concat("", [n_text(unsafe_model), " unsafe model serialization finding(s): ", examples(unsafe_model)]),
	"remediation": "convert the model to a format that cannot run code (safetensors, GGUF, ONNX) or remove the flagged objects",
} if count(unsafe_model) > 0

unscannable_models := open_rule("MODEL-UNSCANNABLE")

violation contains {
	"rule": "model-unscannable",
	"message": concat("", [n_text(unscannable_models), " model file(s) could not be fully scanned: ", examples(unscannable_models)]),
	"remediation": "fix or re-export the file so it can be read completely; an unscanned file is never treated as clean",
} if count(unscannable_models) > 0
