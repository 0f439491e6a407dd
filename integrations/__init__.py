"""One patcher module per library; loaded only by autolog.<library>()."""
