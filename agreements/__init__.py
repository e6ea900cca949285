"""Mediation agreements: templates, versions, signatures and PDF rendering (a later issue)."""
