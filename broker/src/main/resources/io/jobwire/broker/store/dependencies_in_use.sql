SELECT EXISTS (SELECT 1 FROM job_dependencies)
