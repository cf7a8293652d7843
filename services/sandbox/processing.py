"""Video processing as the networks run it after an upload: a delay, then ready or failed.

Facebook (`video_status`), LinkedIn (`status`: PROCESSING → AVAILABLE or PROCESSING_FAILED) and
Bluesky's video service (`JOB_STATE_*`) all process an uploaded video before a post can show it.
The sandbox plays that with one rule for all three: a job stays in processing for 0.3 s, then is
ready, or failed when the file is not an MP4 (no `ftyp` box at its start): the processing failure
mode, which tests arm by sending such a file.
Jobs live in memory: a restarted sandbox forgets them, as a network forgets an expired upload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

__all__ = ["VIDEO_JOBS", "VideoJobs", "VideoState", "processing_failure"]

VideoState = Literal["processing", "ready", "failed"]
PROCESSING_SECONDS = 0.3


def processing_failure(data: bytes) -> str | None:
    """Why processing `data` fails, or None for a file the sandbox takes as a video."""
    if data[4:8] != b"ftyp":
        return "the file is not a video that could be decoded (no MP4 ftyp box)"
    return None


@dataclass(frozen=True)
class _Job:
    ready_at: float
    failure: str | None


class VideoJobs:
    """Processing jobs by key (`{network}:{video id}`)."""

    def __init__(
        self, seconds: float = PROCESSING_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._jobs: dict[str, _Job] = {}

    def start(self, key: str, data: bytes) -> None:
        """Start processing `data`; starting a known key again keeps its first job."""
        self._jobs.setdefault(key, _Job(self._clock() + self.seconds, processing_failure(data)))

    def state(self, key: str) -> VideoState | None:
        """Where the job stands (None: no such job)."""
        job = self._jobs.get(key)
        if job is None:
            return None
        if self._clock() < job.ready_at:
            return "processing"
        return "failed" if job.failure else "ready"

    def failure(self, key: str) -> str | None:
        """Why the job failed, once it has."""
        job = self._jobs.get(key)
        return job.failure if job is not None and self.state(key) == "failed" else None


VIDEO_JOBS = web.AppKey("sandbox_video_jobs", VideoJobs)
