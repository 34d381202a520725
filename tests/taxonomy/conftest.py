"""Fixtures shared by the coder's tests."""

import pytest

from taxonomy.coder import CoderQuery


@pytest.fixture
def seed_query() -> CoderQuery:
    """The seed card AIMLAM.GEN.P1 (fixtures/seed.json), as suggest_for_role would send it."""
    return CoderQuery(
        title="Entry-Level AI/ML Engineer",
        aliases=["Machine Learning I", "Junior Machine Learning", "Deep Learning I", "Statistical Modeling I",
                 "Entry-Level AI/ML Engineer"],
        components=[
            "Implementing small components of ML models or data pipelines",
            "Writing unit tests for an ML code module",
            "Cleaning and labeling data under supervision",
            "Assisting in the development of AI algorithms",
            "Python programming",
            "Basic machine learning",
            "Machine learning basics",
            "Statistical analysis",
        ],
        story=(
            "An AI/ML Engineer who strives to push the boundaries of technology and create intelligent applications. "
            "Utilize statistical modeling and machine learning techniques to analyze data and extract valuable "
            "insights."
        ),
    )
