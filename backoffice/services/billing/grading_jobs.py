"""The grading rules editor's background job: save a draft of the rules and regrade the pool
with them, in one transaction, ending with what changed (numbers per current → new grade).

A regrade of a million numbers takes seconds, so the page submits this job and shows its
progress; the API's synchronous PUT + regrade stay as they were."""

from typing import Final

from sqlmodel import Session

from backoffice.contracts.billing import GradingRuleIn
from backoffice.core.i18n import N_
from backoffice.models import Job
from backoffice.services import jobs
from backoffice.services.billing import grading
from backoffice.services.errors import Conflict, InvalidInput

KIND: Final = "regrade"
TITLE: Final = N_("Save the grading rules and regrade the pool")
REGRADE_TITLE: Final = N_("Regrade the pool")
CHANGED_MESSAGE: Final = N_(
    "The grading rules were changed by someone else since this draft was started; nothing "
    "was saved. Open the rules again and redo the change."
)


def submit(
    session: Session, actor: str, rules: list[GradingRuleIn] | None, base: str | None
) -> Job:
    """Queues the job: `rules` to save first (None: regrade with the saved rules), `base`
    the fingerprint (grading.rules_version) of the rules the draft started from."""
    params = {
        "rules": None if rules is None else [rule.model_dump() for rule in rules],
        "base": base,
    }
    title = REGRADE_TITLE if rules is None else TITLE
    return jobs.submit(session, KIND, actor, title=title, params=params)


@jobs.handler(KIND)
def save_and_regrade(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    base = ctx.params.get("base")
    if base and grading.rules_version(session) != base:
        raise Conflict(CHANGED_MESSAGE, code="grading_rules_changed")
    summary: list[tuple[str, object]] = []
    raw = ctx.params.get("rules")
    if raw is not None:
        ctx.progress(0, None, phase=N_("Saving the rules"))
        try:
            rules = [GradingRuleIn.model_validate(rule) for rule in raw]
        except ValueError as exc:  # a job queued by hand with a broken rule
            raise InvalidInput(N_("The rules to save are not valid."), code="invalid") from exc
        grading.stage_rules(session, rules, ctx.actor)
        summary.append((N_("Rules saved"), len(rules)))

    def progress(done: int, total: int) -> None:
        ctx.progress(done, total, phase=N_("Regrading numbers"))

    tally = grading.regrade_pool(session, ctx.actor, progress)
    summary += [
        (N_("Numbers examined"), tally.examined),
        (N_("Numbers that changed grade"), tally.changed),
    ]
    # One line per current → new grade: the codes are data, shown as they are.
    summary += [(f"{old} → {new}", count) for (old, new), count in tally.changes.items()]
    return jobs.JobResult(summary=summary, link="/billing/grading")
