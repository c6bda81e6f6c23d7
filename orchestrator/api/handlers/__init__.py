"""Thin request handlers, one module per area; the route table wires them up."""
