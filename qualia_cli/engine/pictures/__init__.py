"""Pictures: the background image jobs, their runner, the scenes they draw, their records,
and the facade's picture, workflow and batch operations."""
