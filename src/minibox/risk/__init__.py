"""Risk control before a payment: a decision (allow, step-up, refuse) from a device fingerprint the
mini-program cannot read, the user's and device's behaviour, and a rule set the operator edits.

`RuleSet` (rules.py) is the operator's policy; `RiskHistory` (history.py) what happened before;
`RiskEngine` (engine.py) turns the two into a `Decision` with its reasons."""

from .engine import Decision, RiskEngine, Signals
from .fingerprint import device_fingerprint
from .history import RiskHistory
from .rules import DEFAULT_RULES, Rule, RuleError, RuleSet

__all__ = ["DEFAULT_RULES", "Decision", "RiskEngine", "RiskHistory", "Rule", "RuleError", "RuleSet", "Signals",
           "device_fingerprint"]
