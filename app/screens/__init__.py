"""The operator's console (/console) and the shelter's screen (/shelter): static pages that
use the public API only, with the token the user pastes in."""
