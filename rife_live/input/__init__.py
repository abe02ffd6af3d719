"""rife_live.input: key bindings (mpv input.conf syntax) and the command table."""

from __future__ import annotations

from rife_live.input.bindings import Binding, BindingTable, key_from_event, load_bindings, parse_input_conf

__all__ = ["Binding", "BindingTable", "key_from_event", "load_bindings", "parse_input_conf"]
