"""gather() has asyncio.gather()'s signature (and typeshed's overloads);
wait, sleep, Semaphore and BoundedSemaphore are asyncio's own objects."""
from asyncio.locks import BoundedSemaphore as BoundedSemaphore
from asyncio.locks import Semaphore as Semaphore
from asyncio.tasks import ALL_COMPLETED as ALL_COMPLETED
from asyncio.tasks import FIRST_COMPLETED as FIRST_COMPLETED
from asyncio.tasks import FIRST_EXCEPTION as FIRST_EXCEPTION
from asyncio.tasks import gather as gather
from asyncio.tasks import sleep as sleep
from asyncio.tasks import wait as wait

__all__ = ("gather", "wait", "sleep", "Semaphore", "BoundedSemaphore",
           "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED")

def install_gather() -> None: ...
