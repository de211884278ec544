"""The cache of identical generations."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows.models.runs import Run, history_user_of_run


class GenerationCacheEntry(models.Model):
    """A valid generation keyed by everything that determines it; a hit costs no tokens."""

    key = models.CharField(max_length=64, unique=True)
    model_name = models.CharField(max_length=120)
    response_text = models.TextField()
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    source_run = models.ForeignKey(Run, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    hits = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(get_user=history_user_of_run)

    class Meta:
        verbose_name_plural = "generation cache entries"

    def __str__(self) -> str:
        return f"{self.model_name} {self.key[:12]}"
