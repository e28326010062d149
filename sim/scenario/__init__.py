"""The scenario language: typed models (language), safe positioned YAML, `extends` and
`--set` (loader), the one "will it run?" check, and the JSON Schema. Imports nothing above it."""
