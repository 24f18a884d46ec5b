"""Territories: each département's SIAO on one deployment (README, "Territories")."""
