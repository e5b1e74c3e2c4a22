# Unsafe model serialization: open model findings at critical or high severity, and any model
# file the scanner could not fully examine (MODEL-UNSCANNABLE). Blocks every stage by default.
package scanner.gate

import rego.v1

# most severe first, then by rule id
model_rules := [rule | some rule in open_rule_ids; open_rules[rule].check == "model"; rule != "MODEL-UNSCANNABLE"]

unsafe_model := [[rule, s] |
	some s in ["critical", "high"]
	some rule in model_rules
	open_rules[rule].severities[s]
]

violation contains {
	"rule": "model-unsafe",
	"message": concat("", [n_text(unsafe_model), " unsafe model serialization finding(s): ", examples(unsafe_model)]),
	"remediation": "convert the model to a format that cannot run code (safetensors, GGUF, ONNX) or remove the flagged objects",
} if count(unsafe_model) > 0

unscannable_models := rule_keys("MODEL-UNSCANNABLE")

violation contains {
	"rule": "model-unscannable",
	"message": concat("", [n_text(unscannable_models), " model file(s) could not be fully scanned: ", examples(unscannable_models)]),
	"remediation": "fix or re-export the file so it can be read completely; an unscanned file is never treated as clean",
} if count(unscannable_models) > 0
