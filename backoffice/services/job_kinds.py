"""Every kind of background job, registered by importing the modules that define them: the
job runners (office processes, `haoka-office worker`, `haoka-office jobs run`) import this."""

from backoffice.services.billing import grading_jobs, jobs  # noqa: F401 - they register
from backoffice.services.jobs import HANDLERS, Runner, run_pending
from backoffice.services.settlement import jobs as settlement_jobs  # noqa: F401 - it registers

__all__ = ["HANDLERS", "Runner", "run_pending"]
