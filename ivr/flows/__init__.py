"""Declarative YAML call flows: the schema, the safe loader and the checks."""

from ivr.flows.loader import flow_files, load_flow_file, load_flow_text, load_flows
from ivr.flows.schema import Flow, Step, flow_json_schema

__all__ = [
    "Flow",
    "Step",
    "flow_files",
    "flow_json_schema",
    "load_flow_file",
    "load_flow_text",
    "load_flows",
]
