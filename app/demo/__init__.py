"""The demo region: Valenciennes / Hainaut, one night. ``load_demo(session)`` loads it."""

from app.demo.loader import load_demo

__all__ = ["load_demo"]
