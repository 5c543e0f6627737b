"""Fusion's core: ask a panel of models, judge their answers, write one fused answer.

The public face is below; everything else is private to its module. This package never imports
a chat platform's library and never reads the environment: processes in ``bots/`` do that and
pass typed values in.
"""

from fusion_engine.allowance import UNLIMITED, Allowance, SpendGuard
from fusion_engine.budget.base import BudgetStatus, BudgetStore
from fusion_engine.config import BudgetDefaults, FusionConfig, load_config
from fusion_engine.engine import FusionEngine
from fusion_engine.errors import (
    BudgetExceeded,
    CallOverBudget,
    ConfigError,
    FusionError,
    InputError,
    ModelCallError,
    ModelConnectionError,
    ModelHTTPError,
    ModelOutputError,
    ModelTimeout,
    QuorumError,
    RateLimited,
    RefusedError,
    StageError,
    UnavailableError,
)
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    FusionStarted,
    JudgeStarted,
    MemberFailed,
    MemberFinished,
    MemberStarted,
    PanelDone,
    WriterDelta,
    WriterStarted,
)
from fusion_engine.jobs.base import FusionJob, JobQueue, ReplyTarget, Responder
from fusion_engine.money import MICROS_PER_USD, format_usd, usd_to_micros
from fusion_engine.pools import PoolSpec
from fusion_engine.request import ConversationTurn, FusionRequest
from fusion_engine.result import (
    Analysis,
    AnswerScores,
    Contradiction,
    FusionResult,
    MemberResult,
    PanelAnswer,
    PanelFailure,
    Quote,
    StageCall,
    StageLatency,
    Stance,
    UniqueInsight,
)
from fusion_engine.service import Accepted, FusionService, run_charged

__all__ = [
    "MICROS_PER_USD",
    "UNLIMITED",
    "Accepted",
    "Allowance",
    "Analysis",
    "AnalysisReady",
    "AnswerScores",
    "BudgetDefaults",
    "BudgetExceeded",
    "BudgetStatus",
    "BudgetStore",
    "CallOverBudget",
    "ConfigError",
    "Contradiction",
    "ConversationTurn",
    "Done",
    "FusionConfig",
    "FusionEngine",
    "FusionError",
    "FusionEvent",
    "FusionJob",
    "FusionRequest",
    "FusionResult",
    "FusionService",
    "FusionStarted",
    "InputError",
    "JobQueue",
    "JudgeStarted",
    "MemberFailed",
    "MemberFinished",
    "MemberResult",
    "MemberStarted",
    "ModelCallError",
    "ModelConnectionError",
    "ModelHTTPError",
    "ModelOutputError",
    "ModelTimeout",
    "PanelAnswer",
    "PanelDone",
    "PanelFailure",
    "PoolSpec",
    "QuorumError",
    "Quote",
    "RateLimited",
    "RefusedError",
    "ReplyTarget",
    "Responder",
    "SpendGuard",
    "StageCall",
    "StageError",
    "StageLatency",
    "Stance",
    "UnavailableError",
    "UniqueInsight",
    "WriterDelta",
    "WriterStarted",
    "format_usd",
    "load_config",
    "run_charged",
    "usd_to_micros",
]
