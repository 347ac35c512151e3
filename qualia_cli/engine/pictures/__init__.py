"""Pictures: `PictureService` (service.py, `engine.pictures`) over the background image jobs,
their runner, the scenes they draw, their records, workflows and batches."""
