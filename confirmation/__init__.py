"""Judicial confirmation: applications, the court queue, claims and rulings (a later issue)."""
