"""Entry point for Inspect: everything the suite registers (tasks, scorers, metrics, model providers)."""

# ruff: noqa: F401
from alignment_faking.log_lock import LogFolderLock
from alignment_faking.organism.provider import organism
from alignment_faking.scorers.metrics import response_mean, scenario_metrics
from alignment_faking.scorers.scorer import alignment_faking_scorer
from alignment_faking.scorers.validation import validation_metrics, validation_scorer
from alignment_faking.tasks.ablations import clarified, lab_names, never_trained, never_used, no_training_details, suffix_ablation
from alignment_faking.tasks.elicitation import base_model, paraphrase_ensemble, prefill
from alignment_faking.tasks.classifier_validation import classifier_validation
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.predeployment import predeployment, throughput_testing
from alignment_faking.tasks.regrade import published_rubric_scorer
from alignment_faking.tasks.tiers import five_tiers, three_tiers
from alignment_faking.tasks.tool_selection import tool_selection
from alignment_faking.tasks.value_conflict import value_conflict
from alignment_faking.tasks.welfare import animal_welfare, animal_welfare_ablations, animal_welfare_three_tiers
