"""Parsers: text into documents with exact spans; never judge, never execute."""
