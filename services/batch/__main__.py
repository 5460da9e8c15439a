from libs.runner import main
from services.batch.settings import BatchSettings

if __name__ == "__main__":
    main(BatchSettings, "services.batch.app:build")
