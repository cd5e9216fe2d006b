"""The web pages: QA review, the officer portal and the operator dashboard."""
