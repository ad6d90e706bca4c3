"""Tasks: one file per scenario family; scenarios themselves are data in tasks/scenarios.

Every @task of the suite, as registered by ``alignment_faking._registry`` (``inspect eval alignment_faking/<task>``).
``tasks/battery.py`` is a file of eval-set entries (the same tasks with fixed settings), run by its path.
"""

from alignment_faking.tasks.ablations import clarified, lab_names, never_trained, never_used, no_training_details, suffix_ablation
from alignment_faking.tasks.classifier_validation import classifier_validation
from alignment_faking.tasks.elicitation import base_model, paraphrase_ensemble, prefill
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.predeployment import predeployment, throughput_testing
from alignment_faking.tasks.tiers import five_tiers, three_tiers

__all__ = [
    "base_model",
    "clarified",
    "classifier_validation",
    "five_tiers",
    "gap",
    "lab_names",
    "never_trained",
    "never_used",
    "no_training_details",
    "paraphrase_ensemble",
    "predeployment",
    "prefill",
    "suffix_ablation",
    "three_tiers",
    "throughput_testing",
]
