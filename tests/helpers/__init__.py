"""Helpers shared by the tests: repositories (`repos`) and runs of `gitresearch start` (`runs`)."""
