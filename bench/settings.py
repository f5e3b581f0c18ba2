"""Benchmark settings: OwlGrid's, plus the baseline view's URL."""

from owlgrid_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
