"""Policies: what the platform does on each surface, as versioned data, decided purely.

    schema       the policy file's pydantic models (unknown keys refused)
    vocabulary   surfaces, actions per surface, levels, roles, relationships, key groups
    validate     load a file, every issue with file:line and a hint; the shipped default policy
    shadowing    which rules can never win (sound, conservative)
    decide       DecisionInput → Decision, through a policy compiled once per surface
    holder       PolicyHolder: hot reload, keeping the old policy on a bad file
    diff         how a candidate policy's decisions differ from the active one's

No web, database or Redis import, nor cvguard's store, api or pipeline (a test enforces it).
"""

from cvguard.policy.decide import (
    CompiledPolicy,
    Decision,
    DecisionInput,
    Nudge,
    RuleMatch,
    compile_policy,
    decide,
)
from cvguard.policy.diff import ActionChange, PolicyDiff, diff_decisions, diff_pairs, format_diff
from cvguard.policy.holder import PolicyHolder
from cvguard.policy.schema import Policy, Rule, When
from cvguard.policy.validate import (
    PolicyError,
    PolicyIssue,
    default_policy,
    format_issue,
    load_policy,
    load_policy_text,
    parse_policy,
    validate_file,
)
from cvguard.policy.vocabulary import ACTIONS, SURFACES, relationship_of

__all__ = [
    "ACTIONS",
    "SURFACES",
    "ActionChange",
    "CompiledPolicy",
    "Decision",
    "DecisionInput",
    "Nudge",
    "Policy",
    "PolicyDiff",
    "PolicyError",
    "PolicyHolder",
    "PolicyIssue",
    "Rule",
    "RuleMatch",
    "When",
    "compile_policy",
    "decide",
    "default_policy",
    "diff_decisions",
    "diff_pairs",
    "format_diff",
    "format_issue",
    "load_policy",
    "load_policy_text",
    "parse_policy",
    "relationship_of",
    "validate_file",
]
