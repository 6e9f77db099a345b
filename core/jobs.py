"""Back-office jobs record each run and its outcome (JobRun) for the operations view."""
from django.utils import timezone

from .models import JobRun


class job_run:
    """Records a back-office job's run and outcome (JobRun) for the operations view: a row when it
    starts, its outcome when it ends. A worker killed mid-run leaves it `running`."""

    def __init__(self, job: str):
        self.job = job
        self.detail: dict = {}

    def __enter__(self):
        self.row = JobRun.objects.create(job=self.job, started_at=timezone.now())
        return self

    def __exit__(self, exc_type, exc, tb):
        outcome = JobRun.Outcome.FAILED if exc_type else JobRun.Outcome.OK
        detail = dict(self.detail)
        if exc_type:
            detail["error"] = f"{exc_type.__name__}: {exc}"[:500]
        JobRun.objects.filter(pk=self.row.pk).update(finished_at=timezone.now(), outcome=outcome, detail=detail)
        return False
