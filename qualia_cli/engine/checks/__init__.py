"""What works here and what to do about what does not: doctor, models, model choice, error hints."""
